#include "ui/welcome_page.h"

#include "ui/project_session.h"
#include "ui/settings.h"
#include "ui/theme.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QStandardPaths>
#include <QVBoxLayout>

namespace sep::ui {

WelcomePage::WelcomePage(QWidget *parent) : QWidget(parent)
{
    auto *logo = new QLabel;
    logo->setPixmap(QIcon(QStringLiteral(":/icons/sep-studio.svg")).pixmap(96, 96));   // SVG, sharp at any scale
    logo->setFixedSize(96, 96);
    auto *title = new QLabel(tr("<h1 style='margin:0'>SEP Studio</h1>"
                                "<p>Few-shot prompt tuning of CLIP models with SEP, CoOp and zero-shot CLIP: "
                                "train on a folder of images, watch the curves, see which tokens each layer selected, "
                                "export the tuned model.</p>"));
    title->setWordWrap(true);
    auto *head = new QHBoxLayout;
    head->addWidget(logo);
    head->addSpacing(16);
    head->addWidget(title, 1);

    auto *newButton = new QPushButton(QIcon(QStringLiteral(":/icons/new.svg")), tr("New project…"));
    newButton->setObjectName(QStringLiteral("welcomeNew"));
    auto *openButton = new QPushButton(QIcon(QStringLiteral(":/icons/open.svg")), tr("Open project…"));
    openButton->setObjectName(QStringLiteral("welcomeOpen"));
    m_demo = new QPushButton(QIcon(QStringLiteral(":/icons/demo.svg")), tr("Open demo project"));
    m_demo->setObjectName(QStringLiteral("welcomeDemo"));
    for (QPushButton *b : {newButton, openButton, m_demo}) {
        b->setMinimumHeight(40);
        b->setIconSize({24, 24});
    }
    m_demoNote = new QLabel;
    m_demoNote->setWordWrap(true);
    m_demoNote->setEnabled(false);
    auto *actions = new QVBoxLayout;
    actions->addWidget(new QLabel(tr("<b>Start</b>")));
    actions->addWidget(newButton);
    actions->addWidget(openButton);
    actions->addWidget(m_demo);
    actions->addWidget(m_demoNote);
    actions->addStretch();

    m_recent = new QListWidget;
    m_recent->setObjectName(QStringLiteral("recentProjects"));
    auto *recent = new QVBoxLayout;
    recent->addWidget(new QLabel(tr("<b>Recent projects</b> (double-click to open)")));
    recent->addWidget(m_recent, 1);

    auto *body = new QHBoxLayout;
    body->addLayout(actions, 1);
    body->addSpacing(24);
    body->addLayout(recent, 2);

    auto *inner = new QWidget;
    inner->setMaximumWidth(980);
    auto *il = new QVBoxLayout(inner);
    il->addLayout(head);
    il->addSpacing(18);
    il->addLayout(body, 1);
    auto *layout = new QHBoxLayout(this);
    layout->addStretch();
    layout->addWidget(inner, 10);
    layout->addStretch();
    layout->setContentsMargins(24, 24, 24, 24);

    connect(newButton, &QPushButton::clicked, this, &WelcomePage::newProject);
    connect(openButton, &QPushButton::clicked, this, &WelcomePage::openProject);
    connect(m_demo, &QPushButton::clicked, this, [this] { Q_EMIT openPath(demoProjectPath()); });
    connect(m_recent, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) {
        Q_EMIT openPath(item->data(Qt::UserRole).toString());
    });
    refresh();
}

QString WelcomePage::demoProjectPath()
{
    const QString env = qEnvironmentVariable("SEP_DEMO_PROJECT");
    if (!env.isEmpty())
        return QFileInfo::exists(env) ? env : QString();
    // Where `sep demo` (the quick start) leaves it: demo-run/ in the working directory or in the
    // source tree above a build's app/gui/, else a copy in the user's data folder.
    const QStringList candidates = {
        QDir::current().filePath(QStringLiteral("demo-run/demo.sepproj")),
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../../../demo-run/demo.sepproj")),
        QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath(QStringLiteral("demo/demo.sepproj")),
    };
    for (const QString &path : candidates)
        if (QFileInfo::exists(path))
            return QFileInfo(path).canonicalFilePath();
    return {};
}

void WelcomePage::refresh()
{
    m_recent->clear();
    for (const QString &p : settings::recentProjects()) {
        const QFileInfo info(p);
        auto *item = new QListWidgetItem(QIcon(QStringLiteral(":/icons/project.svg")),
                                         info.completeBaseName() + QStringLiteral("\n") + info.absolutePath());
        item->setData(Qt::UserRole, p);
        item->setToolTip(p);
        if (!info.exists()) {
            item->setText(item->text() + tr("  (missing)"));
            item->setForeground(toneColour(Tone::Muted));
        }
        m_recent->addItem(item);
    }
    if (m_recent->count() == 0) {
        auto *item = new QListWidgetItem(tr("No recent projects yet. Start with “New project…”."));
        item->setFlags(Qt::NoItemFlags);
        m_recent->addItem(item);
    }
    const QString demo = demoProjectPath();
    m_demo->setEnabled(!demo.isEmpty());
    m_demoNote->setText(demo.isEmpty() ? tr("No demo project yet: packaging/quickstart.sh (or `sep demo`) makes demo-run/demo.sepproj; "
                                            "SEP_DEMO_PROJECT may point at another .sepproj.")
                                       : tr("Demo: %1").arg(demo));
}

} // namespace sep::ui
