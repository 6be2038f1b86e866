#pragma once
// A QWizardPage whose "Next" depends on a condition the wizard computes (a check done in a job).

#include <QWizardPage>

#include <functional>

namespace sep::ui {

class CheckedPage : public QWizardPage {
    Q_OBJECT
public:
    explicit CheckedPage(std::function<bool()> complete = {}, QWidget *parent = nullptr)
        : QWizardPage(parent), m_complete(std::move(complete))
    {
    }
    bool isComplete() const override { return m_complete ? m_complete() : QWizardPage::isComplete(); }
    void recheck() { Q_EMIT completeChanged(); }
    std::function<void()> onInitialize;
    void initializePage() override
    {
        if (onInitialize)
            onInitialize();
    }

private:
    std::function<bool()> m_complete;
};

} // namespace sep::ui
