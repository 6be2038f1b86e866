#pragma once
// New project (QWizard): name and location → the model (built-in, or a weights file chosen or
// dropped, with its vocabulary found or asked for; the detected architecture and parameter count are
// shown before going on) → the image folder (chosen or dropped) with a scan: classes, images per
// class, unusable files with the reason; class names editable → base/new split, shots and seed with
// the published protocol's defaults. Finishing creates the project (a job: scan, hash, decode-check)
// and keeps edited class names in it; the image folder is only read.

#include "engine/data/image_folder.h"
#include "ui/engine_facade.h"
#include "ui/settings.h"

#include <QWizard>

class QButtonGroup;
class QCheckBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QRadioButton;
class QSpinBox;
class QTableWidget;
class QListWidget;

namespace sep::ui {

class NewProjectWizard : public QWizard {
    Q_OBJECT
public:
    enum Page { NamePage, ModelPage, DataPage, ProtocolPage };
    explicit NewProjectWizard(QWidget *parent = nullptr);

    QString projectPath() const;      // location/name.sepproj
    // The location offered first: the last project's, else Documents, else home (one that exists).
    static QString defaultLocation();
    ProjectDefaults defaults() const;
    const data::ImageFolder &folder() const { return m_folder; }
    const facade::ModelSummary &model() const { return m_model; }
    bool modelReady() const { return m_modelOk; }
    bool folderReady() const { return m_folderOk; }
    QString modelMessage() const;
    QString folderMessage() const;
    QStringList classNames() const;   // as edited
    QTableWidget *classTable() const { return m_classTable; }

    // Start checks directly (tests, drops).
    void chooseWeights(const QString &path);
    void chooseBuiltin();
    void chooseFolder(const QString &path);
    void setName(const QString &name, const QString &location);

    bool validateCurrentPage() override;

Q_SIGNALS:
    void modelChecked(bool ok);
    void folderScanned(bool ok);
    void projectCreated(const QString &path, const QString &summary);

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void buildNamePage();
    void buildModelPage();
    void buildDataPage();
    void buildProtocolPage();
    void inspectModel();
    void scanFolder();
    void createProject();

    // name
    QLineEdit *m_name, *m_location;
    QLabel *m_nameError, *m_locationNote;
    // model
    QRadioButton *m_builtin, *m_file;
    QLineEdit *m_weights, *m_vocab;
    QLabel *m_modelInfo;
    facade::ModelSummary m_model;
    bool m_modelOk = false, m_modelBusy = false;
    QString m_inspected;   // weights + vocabulary of the last check
    // data
    QLineEdit *m_data;
    QLabel *m_dataInfo;
    QTableWidget *m_classTable;
    QListWidget *m_issues;
    data::ImageFolder m_folder;
    bool m_folderOk = false, m_folderBusy = false;
    QString m_scanned;     // folder of the last scan
    // protocol
    QCheckBox *m_baseToNew;
    QSpinBox *m_shots, *m_seed;
    QLabel *m_split, *m_createInfo;
    QProgressBar *m_progress;
    bool m_created = false, m_creating = false;
};

} // namespace sep::ui
