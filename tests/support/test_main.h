#pragma once
// main() for engine tests: fixes LibTorch's thread count before any tensor work. Left to itself,
// LibTorch starts its thread pool lazily on the first parallel operation, and BLAS results computed
// before and after that moment differ in the last bits, which would break bit-identity checks.

#include "engine/core/runtime.h"

#include <QtTest>

#define SEP_TEST_MAIN(TestClass)                                                                                       \
    int main(int argc, char **argv)                                                                                    \
    {                                                                                                                  \
        sep::configureThreads();                                                                                       \
        QCoreApplication app(argc, argv);                                                                              \
        TestClass tc;                                                                                                  \
        QTEST_SET_MAIN_SOURCE_PATH                                                                                     \
        return QTest::qExec(&tc, argc, argv);                                                                          \
    }
