#include "engine/data/few_shot.h"

#include "engine/core/error.h"

#include <algorithm>
#include <set>

namespace sep::data {

uint64_t Rng::next()
{
    uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t Rng::below(uint64_t bound)
{
    if (bound == 0)
        throw Error("Rng::below: the bound must be positive");
    // Rejection sampling removes the modulo bias.
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t x;
    do
        x = next();
    while (x >= limit);
    return x % bound;
}

uint64_t mixSeed(std::initializer_list<uint64_t> parts)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (uint64_t p : parts) {
        Rng r(h ^ p);
        h = r.next();
    }
    return h;
}

int64_t baseClassCount(int64_t numClasses) { return (numClasses + 1) / 2; }

namespace {

std::vector<std::vector<ImageRecord>> byClass(const std::vector<ImageRecord> &images, int64_t numClasses)
{
    std::vector<std::vector<ImageRecord>> out(static_cast<size_t>(numClasses));
    for (const auto &r : images)
        out.at(static_cast<size_t>(r.label)).push_back(r);
    for (auto &v : out)
        std::sort(v.begin(), v.end(), [](const ImageRecord &a, const ImageRecord &b) { return a.path < b.path; });
    return out;
}

std::string className(const std::vector<std::string> *names, size_t c)
{
    return names ? "'" + (*names)[c] + "'" : "class " + std::to_string(c);
}

} // namespace

std::vector<ImageRecord> sampleFewShot(const std::vector<ImageRecord> &images, int64_t numClasses, int64_t shots,
                                       uint64_t seed, std::vector<std::string> *notes,
                                       const std::vector<std::string> *classNames)
{
    std::vector<ImageRecord> out;
    auto groups = byClass(images, numClasses);
    for (size_t c = 0; c < groups.size(); ++c) {
        auto &g = groups[c];
        Rng rng(mixSeed({seed, c}));
        rng.shuffle(g);
        if (static_cast<int64_t>(g.size()) < shots && notes)
            notes->push_back(className(classNames, c) + " has " + std::to_string(g.size()) + " training image(s), fewer than "
                             + std::to_string(shots) + " shots; all of them are used");
        g.resize(std::min(g.size(), static_cast<size_t>(shots)));
        out.insert(out.end(), g.begin(), g.end());
    }
    return out;
}

RunData planRun(const ImageFolder &folder, const SplitOptions &options)
{
    if (options.shots < 1)
        throw Error("shots must be at least 1");
    RunData d;
    d.allClasses = folder.classNames;
    const int64_t n = folder.numClasses();
    if (n < (options.baseToNew ? 2 : 1))
        throw Error(folder.root + ": base-to-new needs at least 2 classes, the folder has " + std::to_string(n));

    std::vector<ImageRecord> trainPool, testPool;
    if (folder.hasSplits()) {
        if (!folder.splits.count(options.trainSplit))
            throw Error(folder.root + ": has no '" + options.trainSplit + "' folder to draw training shots from");
        const std::string testSplit = folder.splits.count(options.testSplit) ? options.testSplit : "val";
        if (!folder.splits.count(testSplit))
            throw Error(folder.root + ": has no '" + options.testSplit + "' (or 'val') folder to test on");
        trainPool = sampleFewShot(folder.splits.at(options.trainSplit), n, options.shots, options.seed);
        testPool = folder.splits.at(testSplit);
    } else {
        // Shots drawn by seed; every other image of the class is a test image.
        trainPool = sampleFewShot(folder.splits.at("all"), n, options.shots, options.seed);
        std::set<std::string> used;
        for (const auto &r : trainPool)
            used.insert(r.path);
        for (const auto &r : folder.splits.at("all"))
            if (!used.count(r.path))
                testPool.push_back(r);
    }

    auto relabel = [](const std::vector<ImageRecord> &images, int64_t begin, int64_t end) {
        std::vector<ImageRecord> out;
        for (const auto &r : images)
            if (r.label >= begin && r.label < end)
                out.push_back({r.path, r.label - begin});
        return out;
    };
    auto names = [&](int64_t begin, int64_t end) {
        return std::vector<std::string>(folder.classNames.begin() + begin, folder.classNames.begin() + end);
    };
    if (options.baseToNew) {
        const int64_t base = baseClassCount(n);
        d.trainClasses = names(0, base);
        d.train = relabel(trainPool, 0, base);
        d.testClasses["base"] = names(0, base);
        d.testClasses["new"] = names(base, n);
        d.tests["base"] = relabel(testPool, 0, base);
        // New classes are never trained on, so without split folders every one of their images is a
        // test image; their shots are still drawn, so the base sample does not depend on the protocol.
        d.tests["new"] = relabel(folder.hasSplits() ? testPool : folder.splits.at("all"), base, n);
    } else {
        d.trainClasses = folder.classNames;
        d.train = trainPool;
        d.testClasses["all"] = folder.classNames;
        d.tests["all"] = testPool;
    }
    if (d.train.empty())
        throw Error(folder.root + ": no training images for the training classes");
    std::vector<int64_t> perClass(d.trainClasses.size(), 0);
    for (const auto &r : d.train)
        ++perClass[static_cast<size_t>(r.label)];
    // Only the classes trained on.
    for (size_t c = 0; c < perClass.size(); ++c) {
        if (perClass[c] == 0)
            d.notes.push_back("'" + d.trainClasses[c] + "' has no training image; it is still a class, learned only "
                              "from its name");
        else if (perClass[c] < options.shots)
            d.notes.push_back("'" + d.trainClasses[c] + "' has " + std::to_string(perClass[c])
                              + " training image(s), fewer than " + std::to_string(options.shots)
                              + " shots; all of them are used");
    }
    return d;
}

} // namespace sep::data
