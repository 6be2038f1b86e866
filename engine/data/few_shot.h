#pragma once
// From an image folder to the images a run trains and tests on: seeded few-shot sampling, the
// base-to-new class split, and a seeded train/test split for folders without one.
//
//   auto folder = sep::data::ImageFolder::scan("pets");
//   sep::data::SplitOptions o;  o.shots = 16;  o.seed = 1;  o.baseToNew = true;
//   sep::data::RunData d = sep::data::planRun(folder, o);
//   d.train;          // few-shot images of the training classes, labels relative to d.trainClasses
//   d.tests["base"];  // base-class test images, labels relative to d.testClasses["base"]
//
// The same folder contents, shots and seed give the same sample on every machine: images are sorted
// by path and drawn with our own generator (std::shuffle's algorithm differs between libraries).
// Torch-free.

#include "engine/data/image_folder.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sep::data {

// A portable pseudo-random generator (SplitMix64) with unbiased bounded draws.
class Rng {
public:
    explicit Rng(uint64_t seed) : m_state(seed) {}
    uint64_t next();
    uint64_t below(uint64_t bound);   // uniform in [0, bound)
    template <typename T>
    void shuffle(std::vector<T> &v)
    {
        for (size_t i = v.size(); i > 1; --i)
            std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
    }

private:
    uint64_t m_state;
};

// Mixes several numbers into one seed (so that e.g. (seed, epoch) pairs give unrelated streams).
uint64_t mixSeed(std::initializer_list<uint64_t> parts);

struct SplitOptions {
    int64_t shots = 16;          // training images per class (all of them when a class has fewer)
    uint64_t seed = 1;
    bool baseToNew = false;      // train on the first ceil(n/2) classes (sorted by name), test on both halves
    std::string trainSplit = "train";   // on folders with train/val/test
    std::string testSplit = "test";
};

struct RunData {
    std::vector<std::string> allClasses;                            // display names, sorted by folder
    std::vector<std::string> trainClasses;                          // base classes, or all
    std::vector<ImageRecord> train;                                 // labels index trainClasses
    std::map<std::string, std::vector<std::string>> testClasses;    // "base"/"new", or "all"
    std::map<std::string, std::vector<ImageRecord>> tests;          // labels index testClasses[name]
    std::vector<std::string> notes;                                 // classes with fewer images than shots, …
};

// Classes sorted by name; the first ceil(n / 2) are base.
int64_t baseClassCount(int64_t numClasses);

// Few-shot sample: per class, the images sorted by path, shuffled by `seed`, the first `shots` kept.
std::vector<ImageRecord> sampleFewShot(const std::vector<ImageRecord> &images, int64_t numClasses, int64_t shots,
                                       uint64_t seed, std::vector<std::string> *notes = nullptr,
                                       const std::vector<std::string> *classNames = nullptr);

// Without train/test folders, each class's shots are drawn by seed and all its other images are test
// images. With them, shots come from `trainSplit` and tests from `testSplit`.
RunData planRun(const ImageFolder &folder, const SplitOptions &options);

} // namespace sep::data
