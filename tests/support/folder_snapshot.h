#pragma once
// What a folder holds, for tests that must show it was only read: every entry under it (hidden ones
// too) with its size, modification time and a hash of its content. Equal snapshots: nothing was
// created, removed, touched or changed.

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QStringList>

namespace sep::test {

inline QStringList folderSnapshot(const QString &root)
{
    QStringList entries;
    QDirIterator it(root, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QFileInfo info(it.next());
        QString entry = QDir(root).relativeFilePath(info.filePath()) + QLatin1Char(' ') + QString::number(info.size()) + QLatin1Char(' ')
                        + QString::number(info.lastModified().toMSecsSinceEpoch());
        QFile file(info.filePath());
        if (info.isFile() && file.open(QIODevice::ReadOnly))
            entry += QLatin1Char(' ') + QString::fromLatin1(QCryptographicHash::hash(file.readAll(), QCryptographicHash::Sha256).toHex());
        entries << entry;
    }
    entries.sort();
    entries.prepend(QStringLiteral(". ") + QString::number(QFileInfo(root).lastModified().toMSecsSinceEpoch()));
    return entries;
}

} // namespace sep::test
