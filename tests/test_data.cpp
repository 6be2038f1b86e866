// Image folders and the few-shot plan: the generator that every seeded choice rests on, the per-class
// sampling, the base-to-new split and the folder scanner's reports. Expected values come from a
// SplitMix64 written again here, from counts over many draws, and from folders built by each test.

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/text.h"
#include "engine/data/few_shot.h"
#include "engine/data/image_folder.h"
#include "tests/support/expect_error.h"
#include "tests/support/test_main.h"

#include <opencv2/imgcodecs.hpp>

#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

using namespace sep;
using sep::test::expectError;
using namespace sep::data;

namespace {

// SplitMix64 as published by Vigna (prng.di.unimi.it/splitmix64.c), written independently of the
// engine so the engine's output is checked against the algorithm, not against itself.
struct ReferenceSplitMix64 {
    uint64_t state;
    uint64_t next()
    {
        state += 0x9e3779b97f4a7c15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

// A folder tree built by a test. Images are real (tiny) PNG/JPEG files written by OpenCV, so the tree
// is what a user would have, even though scanning only looks at names.
class Tree {
public:
    Tree() { QVERIFY(m_dir.isValid()); }
    std::string root() const { return m_dir.path().toStdString(); }
    std::string path(const std::string &rel) const { return (std::filesystem::path(root()) / rel).string(); }

    void image(const std::string &rel)
    {
        const auto p = std::filesystem::path(path(rel));
        std::filesystem::create_directories(p.parent_path());
        const cv::Mat pixels(4, 4, CV_8UC3, cv::Scalar(10, 120, 200));
        QVERIFY2(cv::imwrite(p.string(), pixels), rel.c_str());
    }
    void images(const std::string &dir, int count, const std::string &ext = ".png")
    {
        for (int i = 0; i < count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "img%03d", i);
            image(dir + "/" + name + ext);
        }
    }
    void file(const std::string &rel, const std::string &content = "not an image")
    {
        const auto p = std::filesystem::path(path(rel));
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << content;
    }
    void folder(const std::string &rel) { std::filesystem::create_directories(path(rel)); }

private:
    QTemporaryDir m_dir;
};

bool hasIssue(const ImageFolder &f, const std::string &pathEnd, const std::string &reasonPart)
{
    for (const auto &i : f.issues)
        if (i.path.size() >= pathEnd.size() && i.path.compare(i.path.size() - pathEnd.size(), pathEnd.size(), pathEnd) == 0
            && i.reason.find(reasonPart) != std::string::npos)
            return true;
    return false;
}

QString describeIssues(const ImageFolder &f)
{
    QString out;
    for (const auto &i : f.issues)
        out += QString::fromStdString(i.path + ": " + i.reason + "\n");
    return out;
}

// Synthetic records: class c has counts[c] images "/data/c<c>/img<i>.png".
std::vector<ImageRecord> records(const std::vector<int> &counts)
{
    std::vector<ImageRecord> out;
    for (size_t c = 0; c < counts.size(); ++c)
        for (int i = 0; i < counts[c]; ++i)
            out.push_back({"/data/c" + std::to_string(c) + "/img" + std::to_string(100 + i) + ".png",
                           static_cast<int64_t>(c)});
    return out;
}

std::set<std::string> pathsOf(const std::vector<ImageRecord> &r, int64_t label = -1)
{
    std::set<std::string> out;
    for (const auto &x : r)
        if (label < 0 || x.label == label)
            out.insert(x.path);
    return out;
}

std::vector<std::pair<std::string, int64_t>> pairsOf(std::vector<ImageRecord> r)
{
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto &x : r)
        out.emplace_back(x.path, x.label);
    std::sort(out.begin(), out.end());
    return out;
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

bool anyNote(const std::vector<std::string> &notes, const std::string &part)
{
    return std::any_of(notes.begin(), notes.end(), [&](const std::string &n) { return contains(n, part); });
}

QString joinNotes(const std::vector<std::string> &notes)
{
    QString out;
    for (const auto &n : notes)
        out += QString::fromStdString(n) + QStringLiteral(" | ");
    return out;
}

} // namespace

class TestData : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Rng
    void rngMatchesSplitMix64_data();
    void rngMatchesSplitMix64();
    void rngKnownFirstOutput();
    void belowStaysInRange();
    void belowIsUniform();
    void belowHasNoModuloBias();
    void belowOfPowerOfTwoUsesOneDraw();
    void shuffleIsADeterministicPermutation();
    void shuffleIsUniformOnThreeElements();
    void mixSeedSeparatesStreams();

    // sampleFewShot
    void sampleIsDeterministicAndOrderFree();
    void sampleTakesMinOfShotsAndAvailable();
    void sampleDependsOnSeed();
    void sampleNotesShortClasses();

    // planRun
    void baseClassCount_data();
    void baseClassCount();
    void baseToNewSplitsSortedClasses();
    void sampleIsTheSameWithAndWithoutBaseToNew();
    void withoutSplitFoldersTrainAndTestPartition();
    void splitFoldersKeepTrainAndTestApart();
    void valIsUsedWhenTestIsAbsent();
    void classWithoutTrainingImagesGetsANote();
    void planRunRejectsBadOptions();

    // ImageFolder
    void hasImageExtension_data();
    void hasImageExtension();
    void classNameFromFolder_data();
    void classNameFromFolder();
    void scanNamesClassesFromFolders();
    void classnamesFileOverridesNames();
    void scanReportsUnusedFiles();
    void scanVisitsEachRealFolderOnce();
    void scanIgnoresHiddenEntries();
    void specialFilesDoNotBlock();
    void outputFolderMustLieOutsideTheData_data();
    void outputFolderMustLieOutsideTheData();
    void archiveEntriesStayInsideTheirFolder_data();
    void archiveEntriesStayInsideTheirFolder();
    void outsideTextIsShortenedInMessages();
    void namesThatAreNotUtf8AreReported();
    void scanIncludesNestedFoldersAndSortsByPath();
    void scanDetectsSplitLayout();
    void scanOfMissingRootNamesThePath();
    void scanHandlesNonAsciiNames();
};

// ---------------------------------------------------------------------------------------------- Rng

void TestData::rngMatchesSplitMix64_data()
{
    QTest::addColumn<quint64>("seed");
    QTest::newRow("0") << quint64(0);
    QTest::newRow("1") << quint64(1);
    QTest::newRow("42") << quint64(42);
    QTest::newRow("deadbeef") << quint64(0xdeadbeefULL);
    QTest::newRow("all ones") << ~quint64(0);   // the state wraps around on the first step
}

void TestData::rngMatchesSplitMix64()
{
    QFETCH(quint64, seed);
    Rng rng(seed);
    ReferenceSplitMix64 ref{seed};
    for (int i = 0; i < 1000; ++i) {
        const uint64_t expected = ref.next(), got = rng.next();
        if (expected != got)
            QFAIL(qPrintable(QStringLiteral("draw %1: %2, expected %3").arg(i).arg(got).arg(expected)));
    }
}

void TestData::rngKnownFirstOutput()
{
    // Anchors the reference itself: the first output of splitmix64.c for seed 0, as widely quoted
    // (e.g. as a test vector of xoshiro seeding).
    QCOMPARE(Rng(0).next(), uint64_t(0xe220a8397b1dcdafULL));
    QCOMPARE(ReferenceSplitMix64{0}.next(), uint64_t(0xe220a8397b1dcdafULL));
}

void TestData::belowStaysInRange()
{
    Rng rng(7);
    const uint64_t bounds[] = {1, 2, 3, 7, 10, 1000, (uint64_t(1) << 63) + 1, ~uint64_t(0)};
    for (uint64_t bound : bounds)
        for (int i = 0; i < 2000; ++i) {
            const uint64_t x = rng.below(bound);
            if (x >= bound)
                QFAIL(qPrintable(QStringLiteral("below(%1) gave %2").arg(bound).arg(x)));
        }
    for (int i = 0; i < 100; ++i)
        QCOMPARE(rng.below(1), uint64_t(0));
}

void TestData::belowIsUniform()
{
    // Chi-square over 10 cells, 100000 draws: 9 degrees of freedom, mean 9, P(chi² > 40) ≈ 1e-5.
    // Fixed seed, so the test is deterministic; the bound only has to be loose enough to hold for a
    // correct generator and tight enough to catch a grossly skewed one.
    Rng rng(12345);
    const int cells = 10, draws = 100000;
    std::vector<int> count(cells, 0);
    for (int i = 0; i < draws; ++i)
        ++count[static_cast<size_t>(rng.below(cells))];
    const double expected = double(draws) / cells;
    double chi2 = 0;
    for (int c : count)
        chi2 += (c - expected) * (c - expected) / expected;
    QVERIFY2(chi2 < 40, qPrintable(QStringLiteral("chi² = %1").arg(chi2)));
}

void TestData::belowHasNoModuloBias()
{
    // With bound = 3·2^62, plain `next() % bound` maps twice as many 64-bit values onto [0, 2^62) as
    // onto the rest, so a third of the range would get half of the draws. Rejection sampling keeps it
    // at a third.
    const uint64_t bound = uint64_t(3) << 62;
    Rng rng(99);
    const int draws = 30000;
    int low = 0;
    for (int i = 0; i < draws; ++i)
        low += rng.below(bound) < (uint64_t(1) << 62);
    const double fraction = double(low) / draws;   // sd ≈ 0.0027 around 1/3
    QVERIFY2(std::abs(fraction - 1.0 / 3.0) < 0.02, qPrintable(QStringLiteral("fraction = %1").arg(fraction)));
}

void TestData::belowOfPowerOfTwoUsesOneDraw()
{
    // For a power-of-two bound the rejection limit is 2^64 − bound, hit with probability 2^-61 here,
    // so each draw is exactly one SplitMix64 output reduced modulo the bound. Checks that below()
    // neither skips nor reuses outputs of the stream.
    Rng rng(2024);
    ReferenceSplitMix64 ref{2024};
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(rng.below(8), ref.next() % 8);
}

void TestData::shuffleIsADeterministicPermutation()
{
    std::vector<int> base(50);
    std::iota(base.begin(), base.end(), 0);
    auto a = base, b = base, c = base;
    Rng(3).shuffle(a);
    Rng(3).shuffle(b);
    Rng(4).shuffle(c);
    QCOMPARE(a, b);
    QVERIFY(a != base);   // 1 in 50! to stay in order
    QVERIFY(a != c);
    auto sorted = a;
    std::sort(sorted.begin(), sorted.end());
    QCOMPARE(sorted, base);

    std::vector<int> empty, one{5};
    Rng(1).shuffle(empty);
    Rng(1).shuffle(one);
    QVERIFY(empty.empty());
    QCOMPARE(one, std::vector<int>{5});
}

void TestData::shuffleIsUniformOnThreeElements()
{
    // A Fisher–Yates with an off-by-one (e.g. drawing from [0, i − 1)) gives some of the 6
    // permutations never or twice as often; 60000 shuffles put ~10000 on each.
    Rng rng(77);
    std::map<std::vector<int>, int> count;
    for (int i = 0; i < 60000; ++i) {
        std::vector<int> v{0, 1, 2};
        rng.shuffle(v);
        ++count[v];
    }
    QCOMPARE(count.size(), size_t(6));
    double chi2 = 0;
    for (const auto &[perm, n] : count)
        chi2 += (n - 10000.0) * (n - 10000.0) / 10000.0;
    QVERIFY2(chi2 < 30, qPrintable(QStringLiteral("chi² = %1").arg(chi2)));   // 5 dof
}

void TestData::mixSeedSeparatesStreams()
{
    QCOMPARE(mixSeed({1, 2}), mixSeed({1, 2}));
    QVERIFY(mixSeed({1, 2}) != mixSeed({2, 1}));
    QVERIFY(mixSeed({1, 2}) != mixSeed({1, 3}));
    QVERIFY(mixSeed({1}) != mixSeed({1, 0}));
    std::set<uint64_t> seen;
    for (uint64_t seed = 1; seed <= 3; ++seed)
        for (uint64_t c = 0; c < 100; ++c)
            seen.insert(mixSeed({seed, c}));
    QCOMPARE(seen.size(), size_t(300));
}

// ------------------------------------------------------------------------------------ sampleFewShot

void TestData::sampleIsDeterministicAndOrderFree()
{
    const auto images = records({30, 20, 17});
    const auto a = sampleFewShot(images, 3, 16, 1);
    QCOMPARE(pairsOf(sampleFewShot(images, 3, 16, 1)), pairsOf(a));

    // The sample depends on the set of images, not on the order a scan or a caller listed them in.
    auto reversed = images;
    std::reverse(reversed.begin(), reversed.end());
    auto shuffled = images;
    Rng(555).shuffle(shuffled);
    QVERIFY(pairsOf(sampleFewShot(reversed, 3, 16, 1)) == pairsOf(a));
    QVERIFY(pairsOf(sampleFewShot(shuffled, 3, 16, 1)) == pairsOf(a));
}

void TestData::sampleTakesMinOfShotsAndAvailable()
{
    const std::vector<int> counts{30, 16, 5, 0, 1};
    const auto images = records(counts);
    const auto all = pathsOf(images);
    const auto sample = sampleFewShot(images, 5, 16, 2);
    QCOMPARE(pathsOf(sample).size(), sample.size());   // no image drawn twice
    for (size_t c = 0; c < counts.size(); ++c) {
        const auto picked = pathsOf(sample, static_cast<int64_t>(c));
        QCOMPARE(picked.size(), size_t(std::min(counts[c], 16)));
        for (const auto &p : picked) {
            QVERIFY(all.count(p));
            QVERIFY2(contains(p, "/c" + std::to_string(c) + "/"), p.c_str());   // label kept with its image
        }
    }
    QCOMPARE(sampleFewShot(images, 5, 1, 2).size(), size_t(4));
}

void TestData::sampleDependsOnSeed()
{
    const auto images = records({30});
    std::set<std::set<std::string>> samples;
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        const auto s = pathsOf(sampleFewShot(images, 1, 16, seed));
        QCOMPARE(s.size(), size_t(16));
        samples.insert(s);
    }
    // C(30, 16) ≈ 1.45e8 subsets: five seeds colliding would mean the seed is ignored.
    QCOMPARE(samples.size(), size_t(5));
}

void TestData::sampleNotesShortClasses()
{
    const auto images = records({3, 20});
    const std::vector<std::string> names{"tabby cat", "dog"};
    std::vector<std::string> notes;
    sampleFewShot(images, 2, 5, 1, &notes, &names);
    QCOMPARE(notes.size(), size_t(1));
    QVERIFY2(contains(notes[0], "'tabby cat'") && contains(notes[0], "3") && contains(notes[0], "5"), notes[0].c_str());

    notes.clear();
    sampleFewShot(images, 2, 5, 1, &notes);   // without names the class is named by its index
    QCOMPARE(notes.size(), size_t(1));
    QVERIFY2(contains(notes[0], "class 0"), notes[0].c_str());

    notes.clear();
    sampleFewShot(images, 2, 3, 1, &notes, &names);   // exactly enough: no note
    QVERIFY2(notes.empty(), qPrintable(joinNotes(notes)));
}

// ------------------------------------------------------------------------------------------ planRun

void TestData::baseClassCount_data()
{
    QTest::addColumn<qint64>("n");
    QTest::addColumn<qint64>("base");
    QTest::newRow("1") << qint64(1) << qint64(1);
    QTest::newRow("2") << qint64(2) << qint64(1);
    QTest::newRow("5") << qint64(5) << qint64(3);
    QTest::newRow("6") << qint64(6) << qint64(3);
    QTest::newRow("37 (pets)") << qint64(37) << qint64(19);
    QTest::newRow("1000") << qint64(1000) << qint64(500);
}

void TestData::baseClassCount()
{
    QFETCH(qint64, n);
    QFETCH(qint64, base);
    QCOMPARE(qint64(sep::data::baseClassCount(n)), base);
    QCOMPARE(base, qint64(std::ceil(double(n) / 2)));   // the spec's ceil(n / 2)
}

void TestData::baseToNewSplitsSortedClasses()
{
    Tree t;
    // Created out of order; byte order puts the capital first.
    t.images("zebra", 4);
    t.images("cherry", 5);
    t.images("apple_pie", 6);
    t.images("Mango", 7);
    t.images("banana", 8);
    const auto folder = ImageFolder::scan(t.root());
    SplitOptions o;
    o.shots = 2;
    o.seed = 1;
    o.baseToNew = true;
    const auto d = planRun(folder, o);

    const std::vector<std::string> all{"Mango", "apple pie", "banana", "cherry", "zebra"};
    QCOMPARE(d.allClasses, all);
    QCOMPARE(d.trainClasses, (std::vector<std::string>{"Mango", "apple pie", "banana"}));
    QCOMPARE(d.testClasses.at("base"), d.trainClasses);
    QCOMPARE(d.testClasses.at("new"), (std::vector<std::string>{"cherry", "zebra"}));
    QCOMPARE(d.tests.size(), size_t(2));

    const std::vector<std::string> folders{"Mango", "apple_pie", "banana", "cherry", "zebra"};
    auto checkLabels = [&](const std::vector<ImageRecord> &images, size_t offset, size_t classes) {
        for (const auto &r : images) {
            QVERIFY(r.label >= 0 && r.label < static_cast<int64_t>(classes));
            const std::string folderName = std::filesystem::path(r.path).parent_path().filename().string();
            QCOMPARE(folderName, folders[offset + static_cast<size_t>(r.label)]);
        }
    };
    checkLabels(d.train, 0, 3);
    checkLabels(d.tests.at("base"), 0, 3);
    checkLabels(d.tests.at("new"), 3, 2);
    // Every new class is present and relabelled to 0 and 1; none of them is trained on.
    std::set<int64_t> newLabels;
    for (const auto &r : d.tests.at("new"))
        newLabels.insert(r.label);
    QCOMPARE(newLabels, (std::set<int64_t>{0, 1}));
    QCOMPARE(d.train.size(), size_t(6));
    // Test images: base classes, every image not drawn as a shot; new classes, every image.
    QCOMPARE(d.tests.at("base").size(), size_t((7 - 2) + (6 - 2) + (8 - 2)));
    QCOMPARE(d.tests.at("new").size(), size_t(5 + 4));
}

void TestData::sampleIsTheSameWithAndWithoutBaseToNew()
{
    Tree t;
    for (const char *c : {"a", "b", "c", "d", "e"})
        t.images(c, 12);
    const auto folder = ImageFolder::scan(t.root());
    SplitOptions o;
    o.shots = 4;
    o.seed = 3;
    const auto plain = planRun(folder, o);
    o.baseToNew = true;
    const auto b2n = planRun(folder, o);

    // Base labels coincide with the full labels (base classes come first), so the base part of the
    // all-class sample must equal the base-to-new sample as (path, label) pairs.
    std::vector<ImageRecord> plainBase;
    for (const auto &r : plain.train)
        if (r.label < 3)
            plainBase.push_back(r);
    QCOMPARE(pairsOf(b2n.train), pairsOf(plainBase));
    QCOMPARE(pathsOf(plain.train).size(), size_t(20));

    // Base classes are tested on the same images either way; new classes, never trained on, on every
    // image they have (12 each), their would-be shots included.
    std::vector<ImageRecord> plainBaseTest;
    for (const auto &r : plain.tests.at("all"))
        if (r.label < 3)
            plainBaseTest.push_back(r);
    QCOMPARE(pairsOf(b2n.tests.at("base")), pairsOf(plainBaseTest));
    std::vector<ImageRecord> newClasses;
    for (auto r : folder.split("all"))
        if (r.label >= 3) {
            r.label -= 3;
            newClasses.push_back(r);
        }
    QCOMPARE(pairsOf(b2n.tests.at("new")), pairsOf(newClasses));
    QCOMPARE(b2n.tests.at("new").size(), size_t(24));
}

void TestData::withoutSplitFoldersTrainAndTestPartition()
{
    Tree t;
    t.images("cat", 20);
    t.images("dog", 3);
    t.images("owl", 16);
    const auto folder = ImageFolder::scan(t.root());
    QVERIFY(!folder.hasSplits());
    SplitOptions o;
    o.shots = 16;
    o.seed = 2;
    const auto d = planRun(folder, o);

    const auto train = pathsOf(d.train), test = pathsOf(d.tests.at("all"));
    std::vector<std::string> both;
    std::set_intersection(train.begin(), train.end(), test.begin(), test.end(), std::back_inserter(both));
    QVERIFY2(both.empty(), both.empty() ? "" : both.front().c_str());
    std::set<std::string> unionSet = train;
    unionSet.insert(test.begin(), test.end());
    QCOMPARE(unionSet, pathsOf(folder.split("all")));
    QCOMPARE(train.size() + test.size(), size_t(39));
    QCOMPARE(pathsOf(d.train, 0).size(), size_t(16));
    QCOMPARE(pathsOf(d.train, 1).size(), size_t(3));
    QCOMPARE(pathsOf(d.train, 2).size(), size_t(16));
    QCOMPARE(pathsOf(d.tests.at("all"), 2).size(), size_t(0));   // all 16 owls went to training
    QVERIFY2(anyNote(d.notes, "'dog'"), qPrintable(joinNotes(d.notes)));
    QCOMPARE(d.testClasses.at("all"), (std::vector<std::string>{"cat", "dog", "owl"}));
}

void TestData::splitFoldersKeepTrainAndTestApart()
{
    Tree t;
    for (const char *c : {"cat", "dog", "owl"}) {
        t.images(std::string("train/") + c, 10);
        t.images(std::string("val/") + c, 2);
        t.images(std::string("test/") + c, 3);
    }
    const auto folder = ImageFolder::scan(t.root());
    QVERIFY(folder.hasSplits());
    SplitOptions o;
    o.shots = 4;
    const auto d = planRun(folder, o);
    QCOMPARE(d.train.size(), size_t(12));
    for (const auto &r : d.train)
        QVERIFY2(contains(r.path, "/train/"), r.path.c_str());
    // The test split is taken whole; val is not mixed in when test exists.
    QCOMPARE(pathsOf(d.tests.at("all")), pathsOf(folder.split("test")));
    QCOMPARE(d.tests.at("all").size(), size_t(9));
    QVERIFY2(d.notes.empty(), qPrintable(joinNotes(d.notes)));

    // Few-shot within train/ follows the same rule as sampleFewShot on that split.
    QCOMPARE(pairsOf(d.train), pairsOf(sampleFewShot(folder.split("train"), 3, 4, o.seed)));
}

void TestData::valIsUsedWhenTestIsAbsent()
{
    Tree t;
    for (const char *c : {"cat", "dog"}) {
        t.images(std::string("train/") + c, 6);
        t.images(std::string("val/") + c, 2);
    }
    const auto folder = ImageFolder::scan(t.root());
    SplitOptions o;
    o.shots = 2;
    const auto d = planRun(folder, o);
    QCOMPARE(pathsOf(d.tests.at("all")), pathsOf(folder.split("val")));
    for (const auto &r : d.train)
        QVERIFY2(contains(r.path, "/train/"), r.path.c_str());

    // Neither test/ nor val/: a clear error, not an empty test set.
    Tree onlyTrain;
    onlyTrain.images("train/cat", 3);
    expectError([&] { planRun(ImageFolder::scan(onlyTrain.root()), o); }, {"'test'"});
}

void TestData::classWithoutTrainingImagesGetsANote()
{
    Tree t;
    t.images("train/cat", 5);
    t.images("train/dog", 5);
    t.folder("train/emu");   // present but empty
    for (const char *c : {"cat", "dog", "emu", "fox"})   // fox has no train/ folder at all
        t.images(std::string("test/") + c, 2);
    const auto folder = ImageFolder::scan(t.root());
    QCOMPARE(folder.numClasses(), int64_t(4));
    QVERIFY2(hasIssue(folder, "fox", "no images in this split"), qPrintable(describeIssues(folder)));
    QVERIFY2(hasIssue(folder, "emu", "no images"), qPrintable(describeIssues(folder)));

    SplitOptions o;
    o.shots = 2;
    const auto d = planRun(folder, o);
    QVERIFY2(anyNote(d.notes, "'emu' has no training image"), qPrintable(joinNotes(d.notes)));
    QVERIFY2(anyNote(d.notes, "'fox' has no training image"), qPrintable(joinNotes(d.notes)));
    QVERIFY2(!anyNote(d.notes, "'cat'"), qPrintable(joinNotes(d.notes)));
    QCOMPARE(d.trainClasses.size(), size_t(4));   // still classes, learned from their names
    QCOMPARE(d.tests.at("all").size(), size_t(8));
}

void TestData::planRunRejectsBadOptions()
{
    Tree t;
    t.images("cat", 3);
    const auto one = ImageFolder::scan(t.root());
    SplitOptions o;
    o.shots = 0;
    expectError([&] { planRun(one, o); }, {"shots"});
    o.shots = -3;
    expectError([&] { planRun(one, o); }, {"shots"});
    o.shots = 1;
    o.baseToNew = true;
    expectError([&] { planRun(one, o); }, {"base-to-new", "2 classes", t.root()});
    o.baseToNew = false;
    QCOMPARE(planRun(one, o).train.size(), size_t(1));   // one class is fine without base-to-new
}

// ------------------------------------------------------------------------------------- ImageFolder

void TestData::hasImageExtension_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("image");
    QTest::newRow("png") << QStringLiteral("a/b.png") << true;
    QTest::newRow("upper JPG") << QStringLiteral("b.JPG") << true;
    QTest::newRow("jpeg") << QStringLiteral("b.jpeg") << true;
    QTest::newRow("mixed Tiff") << QStringLiteral("b.Tiff") << true;
    QTest::newRow("webp") << QStringLiteral("b.webp") << true;
    QTest::newRow("bmp") << QStringLiteral("b.bmp") << true;
    QTest::newRow("txt") << QStringLiteral("b.txt") << false;
    QTest::newRow("double ext") << QStringLiteral("b.png.txt") << false;
    QTest::newRow("no ext") << QStringLiteral("png") << false;
    QTest::newRow("dotted folder") << QStringLiteral("x.png/readme") << false;
    QTest::newRow("empty") << QString() << false;
}

void TestData::hasImageExtension()
{
    QFETCH(QString, path);
    QFETCH(bool, image);
    QCOMPARE(sep::data::hasImageExtension(path.toStdString()), image);
}

void TestData::classNameFromFolder_data()
{
    QTest::addColumn<QString>("folder");
    QTest::addColumn<QString>("name");
    QTest::newRow("underscore") << QStringLiteral("golden_retriever") << QStringLiteral("golden retriever");
    QTest::newRow("several") << QStringLiteral("a_b__c") << QStringLiteral("a b  c");
    QTest::newRow("plain") << QStringLiteral("Cat") << QStringLiteral("Cat");
    QTest::newRow("hyphen kept") << QStringLiteral("jack-o'-lantern") << QStringLiteral("jack-o'-lantern");
}

void TestData::classNameFromFolder()
{
    QFETCH(QString, folder);
    QFETCH(QString, name);
    QCOMPARE(QString::fromStdString(sep::data::classNameFromFolder(folder.toStdString())), name);
}

void TestData::scanNamesClassesFromFolders()
{
    Tree t;
    t.images("golden_retriever", 2);
    t.images("cat", 3, ".jpg");
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat", "golden_retriever"}));
    QCOMPARE(f.classNames, (std::vector<std::string>{"cat", "golden retriever"}));
    QVERIFY(!f.hasSplits());
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{3, 2}));
    for (const auto &r : f.split("all")) {
        QVERIFY2(QFileInfo::exists(QString::fromStdString(r.path)), r.path.c_str());   // usable paths
        QCOMPARE(std::filesystem::path(r.path).parent_path().filename().string(), f.classFolders[size_t(r.label)]);
    }
    QVERIFY2(f.issues.empty(), qPrintable(describeIssues(f)));
    expectError([&] { f.split("train"); }, {"'train'"});
}

void TestData::classnamesFileOverridesNames()
{
    Tree t;
    t.images("golden_retriever", 1);
    t.images("cat", 1);
    t.images("n01440764", 1);
    // CRLF endings (files edited on Windows), a blank line, a multi-word name, a folder that does not
    // exist and a folder without a name.
    t.file("classnames.txt", "golden_retriever Golden Retriever Dog\r\n"
                             "\r\n"
                             "cat   Felis catus\r\n"
                             "missing_one Ghost\r\n"
                             "n01440764\r\n");
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classNames, (std::vector<std::string>{"Felis catus", "Golden Retriever Dog", "n01440764"}));
    // A name given in the file wins; the sorted order (and so the labels) is still the folders'.
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat", "golden_retriever", "n01440764"}));
    QVERIFY2(!hasIssue(f, "classnames.txt", "outside"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "classnames.txt", "'missing_one'"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "classnames.txt", "line 5"), qPrintable(describeIssues(f)));
    QCOMPARE(f.issues.size(), size_t(2));
}

void TestData::scanReportsUnusedFiles()
{
    Tree t;
    t.images("cat", 2);
    t.file("cat/notes.txt");
    t.folder("empty_class");
    t.file("README.md", "# my dataset");
    std::filesystem::create_symlink(t.path("nowhere.png"), t.path("cat/broken.png"));
    const auto f = ImageFolder::scan(t.root());

    QVERIFY2(hasIssue(f, "cat/notes.txt", "not an image"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "empty_class", "no images"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "README.md", "outside any class folder"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "cat/broken.png", "broken link"), qPrintable(describeIssues(f)));
    QCOMPARE(f.issues.size(), size_t(4));
    // The empty folder is still a class (a user may fill it later; labels must not shift silently).
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat", "empty_class"}));
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{2, 0}));
}

void TestData::scanVisitsEachRealFolderOnce()
{
    namespace fs = std::filesystem;
    Tree t;
    t.images("cat", 2);
    t.images("dog", 3);
    // Two links back to their own folder: followed naively, 2^depth paths and the same images
    // queued again at every level.
    fs::create_directory_symlink(t.path("cat"), t.path("cat/again"));
    fs::create_directory_symlink(t.path("cat"), t.path("cat/more"));
    fs::create_directory_symlink(t.root(), t.path("cat/up"));           // back to the root
    fs::create_directory_symlink(t.path("cat"), t.path("dog/sibling"));  // another class's folder
    fs::create_symlink(t.path("dog/img000.png"), t.path("dog/same.png"));   // one image, two names
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat", "dog"}));
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{2, 3}));
    for (const char *link : {"cat/again", "cat/more", "cat/up", "dog/sibling"})
        QVERIFY2(hasIssue(f, link, "the same folder as"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "dog/same.png", "the same file as"), qPrintable(describeIssues(f)));
    QCOMPARE(f.issues.size(), size_t(5));
}

void TestData::scanIgnoresHiddenEntries()
{
    Tree t;
    t.images("cat", 2);
    t.images(".git/objects", 1);          // would become a class "git"
    t.images("cat/.thumbnails", 2);       // would double the class's images
    t.file("cat/._img000.png", "macOS resource fork, not a PNG");
    t.file(".DS_Store", "finder state");
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat"}));
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{2}));
    for (const char *p : {".git", "cat/.thumbnails", "cat/._img000.png", ".DS_Store"})
        QVERIFY2(hasIssue(f, p, "hidden"), qPrintable(describeIssues(f)));
}

void TestData::specialFilesDoNotBlock()
{
    // Opening a FIFO for reading waits for a writer that never comes; each reader must refuse it.
    Tree t;
    t.images("cat", 1);
    QCOMPARE(::mkfifo(t.path("classnames.txt").c_str(), 0600), 0);
    QCOMPARE(::mkfifo(t.path("cat/pipe.png").c_str(), 0600), 0);
    const auto f = ImageFolder::scan(t.root());
    QVERIFY2(hasIssue(f, "classnames.txt", "named pipe"), qPrintable(describeIssues(f)));
    for (const auto &i : f.issues)   // the report prints "path: reason"; the reason must not repeat it
        QVERIFY2(i.reason.find(i.path) == std::string::npos, qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "cat/pipe.png", "not a regular file"), qPrintable(describeIssues(f)));
    QCOMPARE(f.classNames, (std::vector<std::string>{"cat"}));
    expectError([&] { readFile(t.path("classnames.txt")); }, {"classnames.txt", "named pipe", "regular file"});
    expectError([&] { readFile("/dev/zero"); }, {"/dev/zero", "character device"});
    expectError([&] { readFile(t.path("cat")); }, {"cat", "a folder"});
    std::filesystem::create_symlink(t.path("loop"), t.path("loop"));
    expectError([&] { readFile(t.path("loop")); }, {"loop", "loop of symbolic links"});
}

void TestData::outputFolderMustLieOutsideTheData_data()
{
    QTest::addColumn<QString>("output");   // relative to a temporary folder holding data/ (cat/, dog/)
    QTest::addColumn<QString>("expected"); // "" when accepted
    QTest::newRow("the data folder") << "data" << "inside the dataset folder";
    QTest::newRow("the data folder, trailing slash") << "data/" << "inside the dataset folder";
    QTest::newRow("a class folder") << "data/cat" << "inside the dataset folder";
    QTest::newRow("new folder in a class") << "data/cat/run" << "inside the dataset folder";
    QTest::newRow("through ..") << "elsewhere/../data/run" << "inside the dataset folder";
    QTest::newRow("through a link") << "link-to-data/run" << "inside the dataset folder";
    QTest::newRow("the data's parent") << "." << "contains the dataset folder";
    QTest::newRow("beside the data") << "data-results" << "";
    QTest::newRow("a name that starts the same") << "data2" << "";
}

void TestData::outputFolderMustLieOutsideTheData()
{
    QFETCH(QString, output);
    QFETCH(QString, expected);
    Tree t;
    t.images("data/cat", 1);
    t.images("data/dog", 1);
    std::filesystem::create_directory_symlink(t.path("data"), t.path("link-to-data"));
    const std::string out = t.path(output.toStdString());
    if (expected.isEmpty()) {
        requireOutputOutside(out, t.path("data"), "--out");
        return;
    }
    expectError([&] { requireOutputOutside(out, t.path("data"), "--out"); },
                {"--out", expected.toStdString(), "data-results"});
}

void TestData::archiveEntriesStayInsideTheirFolder_data()
{
    QTest::addColumn<QString>("entry");
    QTest::addColumn<QString>("result");   // the path below the destination, or "!reason" when refused
    QTest::newRow("plain") << "manifest.json" << "manifest.json";
    QTest::newRow("nested") << "prompt/a.safetensors" << "prompt/a.safetensors";
    QTest::newRow("dot segments") << "./prompt/./a" << "prompt/a";
    QTest::newRow("doubled slash") << "prompt//a" << "prompt/a";
    QTest::newRow("absolute") << "/etc/passwd" << "!an absolute path";
    QTest::newRow("parent") << "../x" << "!'..'";
    QTest::newRow("parent inside") << "a/../../x" << "!'..'";
    QTest::newRow("parent, harmless") << "a/../b" << "!'..'";   // any '..' is refused: the simplest rule to trust
    QTest::newRow("backslash") << "..\\x" << "!backslash";
    QTest::newRow("empty") << "" << "!empty";
    QTest::newRow("only dots") << "./." << "!no file name";
}

void TestData::archiveEntriesStayInsideTheirFolder()
{
    QFETCH(QString, entry);
    QFETCH(QString, result);
    const std::filesystem::path dest = "/tmp/unpack-dest";
    if (result.startsWith(QLatin1Char('!'))) {
        expectError([&] { entryPathInside(dest, entry.toStdString(), "b.sepmodel"); },
                    {"b.sepmodel", result.mid(1).toStdString(), "refused"});
        return;
    }
    QCOMPARE(QString::fromStdString(entryPathInside(dest, entry.toStdString(), "b.sepmodel").string()),
             QStringLiteral("/tmp/unpack-dest/") + result);
}

void TestData::outsideTextIsShortenedInMessages()
{
    QCOMPARE(shortened("cat"), std::string("cat"));
    QCOMPARE(shortened("a\tb\x1b[2J"), std::string("a?b?[2J"));   // no terminal control from a file
    // Cut at a character boundary: "é" is two bytes and is not split.
    QCOMPARE(shortened("ééé", 3), std::string("é… (6 bytes)"));
    QCOMPARE(reasonAbout("/d/a.png", "/d/a.png: empty file"), std::string("empty file"));
    QCOMPARE(reasonAbout("/d/a.png", "/d/b.png: empty file"), std::string("/d/b.png: empty file"));

    // A 10 kB first word in classnames.txt is named, not echoed whole.
    Tree t;
    t.images("cat", 1);
    t.file("classnames.txt", std::string(10000, 'x') + " a name\n");
    const auto f = ImageFolder::scan(t.root());
    QVERIFY2(hasIssue(f, "classnames.txt", "(10000 bytes)"), qPrintable(describeIssues(f)));
    for (const auto &i : f.issues)
        QVERIFY(i.reason.size() < 300);
}

void TestData::namesThatAreNotUtf8AreReported()
{
    QVERIFY(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x88"));
    for (const char *bad : {"caf\xe9", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"})
        QVERIFY2(!isValidUtf8(bad), bad);   // Latin-1, overlong, surrogate, past U+10FFFF, cut short

    // A Latin-1 file name and folder name: reported and left out, the rest scanned; every name kept
    // can be written as JSON.
    Tree t;
    t.images("cat", 2);
    t.image("cat/caf\xe9.png");
    t.images("\xe9t\xe9", 1);
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat"}));
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{2}));
    QVERIFY2(hasIssue(f, "cat/caf?.png", "not valid UTF-8"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "/?t?", "not valid UTF-8"), qPrintable(describeIssues(f)));
    nlohmann::json issues = nlohmann::json::array();
    for (const auto &i : f.issues)
        issues.push_back(i.path + ": " + i.reason);
    QVERIFY(!issues.dump().empty());   // the report itself can be written as JSON
    nlohmann::json j = f.classNames;
    for (const auto &r : f.split("all"))
        j.push_back(r.path);
    QVERIFY(!j.dump().empty());   // throws on bytes that are not UTF-8
    expectError([&] { ImageFolder::scan(t.path("\xe9t\xe9")); }, {"not valid UTF-8"});
}

void TestData::scanIncludesNestedFoldersAndSortsByPath()
{
    Tree t;
    t.image("cat/zz.png");
    t.image("cat/indoor/b.png");
    t.image("cat/indoor/deeper/a.png");
    t.image("cat/Aa.png");
    t.image("dog/outdoor/x.jpg");
    t.image("dog/a.png");
    const auto f = ImageFolder::scan(t.root());
    const auto all = f.split("all");
    QCOMPARE(all.size(), size_t(6));
    std::vector<std::string> paths;
    for (const auto &r : all)
        paths.push_back(r.path);
    auto sorted = paths;
    std::sort(sorted.begin(), sorted.end());   // byte order, as documented
    QCOMPARE(paths, sorted);
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{4, 2}));
    for (const auto &r : all)
        QCOMPARE(r.label, contains(r.path, "/cat/") ? int64_t(0) : int64_t(1));
    QCOMPARE(f.numClasses(), int64_t(2));   // sub-folders are not classes
    QVERIFY2(f.issues.empty(), qPrintable(describeIssues(f)));
}

void TestData::scanDetectsSplitLayout()
{
    Tree t;
    t.images("train/cat", 3);
    t.images("train/dog", 2);
    t.images("test/cat", 1);
    t.images("test/dog", 4);
    t.images("test/eel", 1);   // only in test: still a class, reported as missing from train
    t.file("train/stray.png");
    const auto f = ImageFolder::scan(t.root());
    QVERIFY(f.hasSplits());
    QCOMPARE(f.splits.size(), size_t(2));
    QCOMPARE(f.classFolders, (std::vector<std::string>{"cat", "dog", "eel"}));
    QCOMPARE(f.imagesPerClass("train"), (std::vector<int64_t>{3, 2, 0}));
    QCOMPARE(f.imagesPerClass("test"), (std::vector<int64_t>{1, 4, 1}));
    QCOMPARE(f.imagesPerClass("all"), (std::vector<int64_t>{4, 6, 1}));

    // "all" is the union of the splits, nothing lost or doubled.
    std::set<std::string> unionSet = pathsOf(f.split("train"));
    for (const auto &p : pathsOf(f.split("test")))
        unionSet.insert(p);
    QCOMPARE(pathsOf(f.split("all")), unionSet);
    QCOMPARE(f.split("all").size(), size_t(11));
    for (const auto &r : f.split("train"))
        QVERIFY2(contains(r.path, "/train/"), r.path.c_str());

    QVERIFY2(hasIssue(f, "train/stray.png", "outside any class folder"), qPrintable(describeIssues(f)));
    QVERIFY2(hasIssue(f, "train/eel", "no images in this split"), qPrintable(describeIssues(f)));
    expectError([&] { f.split("val"); }, {"'val'"});
}

void TestData::scanOfMissingRootNamesThePath()
{
    QTemporaryDir dir;
    const std::string missing = dir.filePath(QStringLiteral("no_such_dataset")).toStdString();
    expectError([&] { ImageFolder::scan(missing); }, {missing, "not found"});

    Tree t;
    t.file("just_a_file.png");
    expectError([&] { ImageFolder::scan(t.path("just_a_file.png")); }, {"just_a_file.png", "not a folder"});
    expectError([&] { ImageFolder::scan(t.root()); }, {t.root(), "no sub-folders"});
}

void TestData::scanHandlesNonAsciiNames()
{
    Tree t;
    // UTF-8 names as they come from std::filesystem on Linux and macOS.
    const std::string cafe = "caf\xc3\xa9_cr\xc3\xa8me";          // café_crème
    const std::string japanese = "\xe6\x97\xa5\xe6\x9c\xac";       // 日本
    t.images(cafe, 2);
    t.images(japanese, 3);
    t.image(cafe + "/\xc3\xa9t\xc3\xa9.png");                       // été.png
    const auto f = ImageFolder::scan(t.root());
    QCOMPARE(f.classFolders, (std::vector<std::string>{cafe, japanese}));   // byte order: 'c' < 0xE6
    QCOMPARE(f.classNames, (std::vector<std::string>{"caf\xc3\xa9 cr\xc3\xa8me", japanese}));
    QCOMPARE(f.imagesPerClass(), (std::vector<int64_t>{3, 3}));
    for (const auto &r : f.split("all")) {
        const cv::Mat m = cv::imread(r.path);   // paths come back openable, bytes intact
        QVERIFY2(!m.empty(), r.path.c_str());
    }
    QVERIFY2(f.issues.empty(), qPrintable(describeIssues(f)));
}

SEP_TEST_MAIN(TestData)
#include "test_data.moc"
