#pragma once
// expectError(fn, {"needle", …}): runs `fn` and fails the current test unless it throws sep::Error
// whose message contains every needle. The failure shows the message and the missing needle.

#include "engine/core/error.h"

#include <QtTest>

#include <string>
#include <vector>

namespace sep::test {

template <typename Fn>
void expectError(Fn fn, const std::vector<std::string> &needles)
{
    try {
        fn();
    } catch (const Error &e) {
        const std::string message = e.what();
        for (const auto &n : needles)
            QVERIFY2(message.find(n) != std::string::npos,
                     qPrintable(QStringLiteral("message \"%1\" lacks \"%2\"").arg(QString::fromStdString(message), QString::fromStdString(n))));
        return;
    }
    QFAIL("no sep::Error was thrown");
}

} // namespace sep::test
