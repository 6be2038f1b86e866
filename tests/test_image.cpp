// Image decoding and CLIP preprocessing, checked against references computed independently here
// (double-precision resampling sums, hand-worked values, and a few outputs of Pillow itself).

#include "engine/clip/image.h"
#include "engine/core/error.h"

#include <QDir>
#include <QtEndian>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

using namespace sep::clip;

Q_DECLARE_METATYPE(cv::Vec3b)
Q_DECLARE_METATYPE(cv::Rect)

// Readable QCOMPARE failures for OpenCV types (found by argument-dependent lookup).
namespace cv {
char *toString(const Vec3b &v)
{
    return qstrdup(QStringLiteral("(%1, %2, %3)").arg(v[0]).arg(v[1]).arg(v[2]).toUtf8().constData());
}
char *toString(const Rect &r)
{
    return qstrdup(QStringLiteral("[x %1, y %2, w %3, h %4]").arg(r.x).arg(r.y).arg(r.width).arg(r.height).toUtf8().constData());
}
} // namespace cv

namespace {

// ---- references -------------------------------------------------------------------------------

double cubic(double x)
{
    // Keys' cubic with a = -0.5, written out piecewise:
    //   |x| < 1: 1.5|x|³ − 2.5|x|² + 1;  1 ≤ |x| < 2: −0.5|x|³ + 2.5|x|² − 4|x| + 2.
    x = std::abs(x);
    if (x < 1)
        return 1.5 * x * x * x - 2.5 * x * x + 1;
    if (x < 2)
        return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
    return 0;
}

// Normalised 1-D weights for output sample i: weights[j] applies to input sample j (0 outside support).
std::vector<double> referenceWeights(int in, int out, int i)
{
    std::vector<double> w(in, 0.0);
    if (in == out) { // the reference leaves an unchanged axis alone
        w[i] = 1.0;
        return w;
    }
    const double scale = double(in) / out;
    const double stretch = std::max(scale, 1.0);
    const double center = (i + 0.5) * scale;
    const double support = 2.0 * stretch;
    const int lo = std::max(int(center - support + 0.5), 0);
    const int hi = std::min(int(center + support + 0.5), in);
    double sum = 0;
    for (int j = lo; j < hi; ++j)
        sum += (w[j] = cubic((j - center + 0.5) / stretch));
    for (double &v : w)
        v /= sum;
    return w;
}

// The whole resize as one 2-D weighted sum per output pixel, in double, no intermediate rounding.
std::vector<double> referenceResize2d(const cv::Mat &img, int outW, int outH)
{
    std::vector<double> out(size_t(outW) * outH * 3);
    for (int oy = 0; oy < outH; ++oy) {
        const std::vector<double> wy = referenceWeights(img.rows, outH, oy);
        for (int ox = 0; ox < outW; ++ox) {
            const std::vector<double> wx = referenceWeights(img.cols, outW, ox);
            for (int c = 0; c < 3; ++c) {
                double s = 0;
                for (int y = 0; y < img.rows; ++y)
                    for (int x = 0; x < img.cols; ++x)
                        s += wy[y] * wx[x] * img.at<cv::Vec3b>(y, x)[c];
                out[(size_t(oy) * outW + ox) * 3 + c] = s;
            }
        }
    }
    return out;
}

// Two passes in double with the reference's per-pass rounding to 8 bits (round half up, clamp).
cv::Mat referenceResizeTwoPass(const cv::Mat &img, int outW, int outH)
{
    auto to8 = [](double v) { return uchar(std::clamp(std::floor(v + 0.5), 0.0, 255.0)); };
    cv::Mat mid(img.rows, outW, CV_8UC3);
    for (int y = 0; y < img.rows; ++y)
        for (int ox = 0; ox < outW; ++ox) {
            const std::vector<double> wx = referenceWeights(img.cols, outW, ox);
            for (int c = 0; c < 3; ++c) {
                double s = 0;
                for (int x = 0; x < img.cols; ++x)
                    s += wx[x] * img.at<cv::Vec3b>(y, x)[c];
                mid.at<cv::Vec3b>(y, ox)[c] = to8(s);
            }
        }
    cv::Mat out(outH, outW, CV_8UC3);
    for (int oy = 0; oy < outH; ++oy) {
        const std::vector<double> wy = referenceWeights(img.rows, outH, oy);
        for (int x = 0; x < outW; ++x)
            for (int c = 0; c < 3; ++c) {
                double s = 0;
                for (int y = 0; y < img.rows; ++y)
                    s += wy[y] * mid.at<cv::Vec3b>(y, x)[c];
                out.at<cv::Vec3b>(oy, x)[c] = to8(s);
            }
    }
    return out;
}

cv::Mat randomImage(int w, int h, int lo, int hi, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> dist(lo, hi);
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                img.at<cv::Vec3b>(y, x)[c] = uchar(dist(rng));
    return img;
}

// The test pattern fed to Pillow for the golden values below.
cv::Mat patternImage(int w, int h)
{
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                img.at<cv::Vec3b>(y, x)[c] = uchar((x * 37 + y * 91 + c * 53 + x * y * 13) % 256);
    return img;
}

std::vector<int> pixels(const cv::Mat &img)
{
    std::vector<int> v;
    for (int y = 0; y < img.rows; ++y)
        for (int x = 0; x < img.cols; ++x)
            for (int c = 0; c < 3; ++c)
                v.push_back(img.at<cv::Vec3b>(y, x)[c]);
    return v;
}

cv::Mat solid(int w, int h, cv::Vec3b rgb)
{
    return cv::Mat(h, w, CV_8UC3, cv::Scalar(rgb[0], rgb[1], rgb[2]));
}

bool writeBytes(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

QByteArray encode(const char *ext, const cv::Mat &bgr)
{
    std::vector<uchar> buf;
    if (!cv::imencode(ext, bgr, buf))
        return {};
    return QByteArray(reinterpret_cast<const char *>(buf.data()), int(buf.size()));
}

// CRC-32 as PNG uses it, to forge a checksum over deliberately garbled data.
quint32 pngCrc(const QByteArray &bytes)
{
    quint32 c = 0xFFFFFFFFu;
    for (char ch : bytes) {
        c ^= uchar(ch);
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

// Runs decodeImage and returns the sep::Error message, or an empty string if nothing was thrown.
QString decodeError(const QString &path)
{
    try {
        decodeImage(path.toStdString());
    } catch (const sep::Error &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestImage : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    // resizeBicubicPil
    void resizeMatchesTwoDimensionalSum_data();
    void resizeMatchesTwoDimensionalSum();
    void resizeMatchesPerPassRounding();
    void resizeKeepsConstantImage();
    void resizeHandWorked1d();
    void resizeMatchesPillow_data();
    void resizeMatchesPillow();
    void resizeSameSizeIsCopy();
    void resizeAcceptsSubImage();
    void resizeRejectsBadInput();

    // resizeShorterSide, centerCrop, normalizeToChw, preprocess
    void shorterSide_data();
    void shorterSide();
    void centerCropOffset_data();
    void centerCropOffset();
    void centerCropPads();
    void normalizeHandPixel();
    void preprocessConstantImage();
    void preprocessSpeed();

    // randomResizedCropBox, augment
    void cropBoxWithinBounds();
    void cropBoxDeterministic();
    void cropBoxFallback_data();
    void cropBoxFallback();
    void augmentShapeAndDeterminism();
    void augmentFlipsAboutHalf();

    // decodeImage
    void decodeChannelOrder_data();
    void decodeChannelOrder();
    void decodeNonAsciiName();
    void decodeFromMemory();
    void decodeToleratesTrailingBytes();
    void decodeRefusesOversizeBeforeDecoding();
    void decodeReportsRepairedJpeg();
    void decodeBadInput_data();
    void decodeBadInput();
    void decodePermissionDenied();
    void decodeSurvivesDamagedFiles();

private:
    QTemporaryDir m_dir;
    QString path(const QString &name) const { return m_dir.filePath(name); }
};

void TestImage::initTestCase()
{
    QVERIFY(m_dir.isValid());
}

// ---- resizeBicubicPil ---------------------------------------------------------------------------

void TestImage::resizeMatchesTwoDimensionalSum_data()
{
    QTest::addColumn<int>("inW");
    QTest::addColumn<int>("inH");
    QTest::addColumn<int>("outW");
    QTest::addColumn<int>("outH");
    QTest::newRow("shrink 37x23 -> 11x7") << 37 << 23 << 11 << 7;
    QTest::newRow("enlarge 5x4 -> 13x9") << 5 << 4 << 13 << 9;
    QTest::newRow("mixed 20x9 -> 7x15") << 20 << 9 << 7 << 15;
    QTest::newRow("height only 16x10 -> 16x5") << 16 << 10 << 16 << 5;
    QTest::newRow("width only 16x10 -> 3x10") << 16 << 10 << 3 << 10;
    QTest::newRow("big shrink 64x48 -> 5x4") << 64 << 48 << 5 << 4;
}

void TestImage::resizeMatchesTwoDimensionalSum()
{
    QFETCH(int, inW);
    QFETCH(int, inH);
    QFETCH(int, outW);
    QFETCH(int, outH);
    // Values in 64..191: the cubic's negative lobes overshoot by at most 1/8 of the range per pass,
    // so neither pass reaches the 0/255 clamps and the only differences left are the two 8-bit
    // roundings: |ours − exact| ≤ 0.5 + 0.5·Σ|w| < 1.5, i.e. at most 1 after rounding the exact value.
    const cv::Mat img = randomImage(inW, inH, 64, 191, 42);
    const cv::Mat ours = resizeBicubicPil(img, outW, outH);
    QCOMPARE(ours.cols, outW);
    QCOMPARE(ours.rows, outH);
    QCOMPARE(ours.type(), CV_8UC3);
    const std::vector<double> exact = referenceResize2d(img, outW, outH);
    const std::vector<int> got = pixels(ours);
    int maxDiff = 0;
    for (size_t i = 0; i < got.size(); ++i)
        maxDiff = std::max(maxDiff, std::abs(got[i] - int(std::lround(std::clamp(exact[i], 0.0, 255.0)))));
    QVERIFY2(maxDiff <= 1, qPrintable(QStringLiteral("max |diff| %1").arg(maxDiff)));
}

void TestImage::resizeMatchesPerPassRounding()
{
    // Full-range noise overshoots, so this reference also rounds and clamps after each pass. Only the
    // 22-bit fixed-point weights can differ from it, by one level on a rare exact tie.
    const struct { int inW, inH, outW, outH; } cases[] = {{37, 23, 11, 7}, {5, 4, 13, 9}, {50, 31, 224, 17}};
    for (const auto &c : cases) {
        const cv::Mat img = randomImage(c.inW, c.inH, 0, 255, 7);
        const std::vector<int> got = pixels(resizeBicubicPil(img, c.outW, c.outH));
        const std::vector<int> want = pixels(referenceResizeTwoPass(img, c.outW, c.outH));
        size_t exact = 0;
        int maxDiff = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            maxDiff = std::max(maxDiff, std::abs(got[i] - want[i]));
            exact += got[i] == want[i];
        }
        QVERIFY2(maxDiff <= 1, qPrintable(QStringLiteral("max |diff| %1").arg(maxDiff)));
        QVERIFY2(exact >= got.size() * 99 / 100, qPrintable(QStringLiteral("%1 of %2 exact").arg(exact).arg(got.size())));
    }
}

void TestImage::resizeKeepsConstantImage()
{
    // Weights sum to one, so a flat image must stay exactly flat whatever the size.
    const cv::Mat img = solid(31, 17, {200, 3, 128});
    for (auto [w, h] : {std::pair{7, 5}, std::pair{100, 60}, std::pair{31, 3}, std::pair{1, 1}}) {
        const cv::Mat out = resizeBicubicPil(img, w, h);
        for (int y = 0; y < out.rows; ++y)
            for (int x = 0; x < out.cols; ++x)
                QCOMPARE(out.at<cv::Vec3b>(y, x), cv::Vec3b(200, 3, 128));
    }
}

void TestImage::resizeHandWorked1d()
{
    // 4 px → 2 px: scale 2, kernel stretched ×2, support 4, so every output sees all four inputs.
    // Output 0 has center 1.0; tap x is evaluated at (x − 1 + 0.5) / 2 = −0.25, 0.25, 0.75, 1.25:
    //   k(0.25) = 1.5·0.015625 − 2.5·0.0625 + 1 = 0.8671875 = 111/128
    //   k(0.75) = 1.5·0.421875 − 2.5·0.5625 + 1 = 0.2265625 =  29/128
    //   k(1.25) = −0.5·1.953125 + 2.5·1.5625 − 5 + 2 = −0.0703125 = −9/128
    // Weights (111, 111, 29, −9) / 242 for output 0 and the mirror (−9, 29, 111, 111) / 242 for output 1.
    //   R: [10, 20, 30, 40] → (1110 + 2220 + 870 − 360)/242 = 15.87 → 16;  (−90 + 580 + 3330 + 4440)/242 = 34.13 → 34
    //   G: [0, 0, 242, 0]  → 29·242/242 = 29;  111
    //   B: [242, 0, 0, 0]  → 111;  −9 → clamped to 0
    cv::Mat img(1, 4, CV_8UC3);
    img.at<cv::Vec3b>(0, 0) = {10, 0, 242};
    img.at<cv::Vec3b>(0, 1) = {20, 0, 0};
    img.at<cv::Vec3b>(0, 2) = {30, 242, 0};
    img.at<cv::Vec3b>(0, 3) = {40, 0, 0};
    const cv::Mat out = resizeBicubicPil(img, 2, 1);
    QCOMPARE(out.at<cv::Vec3b>(0, 0), cv::Vec3b(16, 29, 111));
    QCOMPARE(out.at<cv::Vec3b>(0, 1), cv::Vec3b(34, 111, 0));
}

void TestImage::resizeMatchesPillow_data()
{
    // Produced once with Pillow 9.4 (not needed to run the tests):
    //   im = Image.new("RGB", (w, h)); im.putdata([tuple((x*37 + y*91 + c*53 + x*y*13) % 256
    //            for c in range(3)) for y in range(h) for x in range(w)])
    //   list(im.resize((ow, oh), Image.BICUBIC).getdata())
    QTest::addColumn<int>("inW");
    QTest::addColumn<int>("inH");
    QTest::addColumn<int>("outW");
    QTest::addColumn<int>("outH");
    QTest::addColumn<std::vector<int>>("expected");
    QTest::newRow("9x7 -> 4x3") << 9 << 7 << 4 << 3
        << std::vector<int>{103, 133, 148, 139, 144, 150, 140, 143, 139, 130, 123, 107, 128, 152, 120, 148, 127, 123,
                            137, 110, 149, 124, 121, 146, 103, 166, 152, 142, 112, 167, 137, 125, 134, 151, 120, 139};
    QTest::newRow("4x3 -> 7x5") << 4 << 3 << 7 << 5
        << std::vector<int>{0,   43,  96,  3,   56,  108, 26,  79,  132, 48,  99,  163, 68,  122, 194, 91,  158, 217,
                            104, 178, 229, 26,  77,  142, 38,  95,  160, 65,  129, 186, 95,  161, 156, 125, 173, 126,
                            152, 134, 152, 166, 109, 170, 87,  140, 193, 104, 157, 220, 137, 190, 251, 166, 235, 144,
                            195, 236, 37,  228, 102, 68,  245, 22,  95,  149, 215, 89,  176, 172, 114, 214, 103, 151,
                            160, 126, 132, 105, 159, 112, 143, 131, 150, 170, 114, 174, 184, 255, 14,  216, 175, 36,
                            255, 38,  78,  148, 45,  126, 38,  100, 173, 79,  155, 214, 111, 184, 236};
    QTest::newRow("9x7 -> 12x3") << 9 << 7 << 12 << 3
        << std::vector<int>{73,  128, 124, 105, 119, 166, 123, 142, 161, 126, 172, 116, 167, 113, 158, 124, 143, 167,
                            118, 168, 143, 160, 151, 114, 154, 107, 157, 112, 143, 123, 115, 139, 93,  156, 91,  93,
                            96,  152, 123, 143, 147, 129, 145, 153, 114, 110, 155, 98,  178, 109, 155, 149, 111, 118,
                            129, 122, 122, 141, 121, 174, 136, 98,  152, 124, 94,  144, 120, 122, 143, 125, 157, 145,
                            118, 168, 117, 116, 174, 150, 92,  156, 177, 79,  122, 179, 169, 121, 174, 182, 79,  146,
                            155, 113, 128, 122, 182, 126, 125, 88,  131, 127, 110, 175, 153, 133, 153, 187, 126, 84};
}

void TestImage::resizeMatchesPillow()
{
    QFETCH(int, inW);
    QFETCH(int, inH);
    QFETCH(int, outW);
    QFETCH(int, outH);
    QFETCH(std::vector<int>, expected);
    // Same algorithm, same fixed-point arithmetic: the bytes must agree exactly.
    QCOMPARE(pixels(resizeBicubicPil(patternImage(inW, inH), outW, outH)), expected);
}

void TestImage::resizeSameSizeIsCopy()
{
    const cv::Mat img = randomImage(9, 6, 0, 255, 3);
    const cv::Mat out = resizeBicubicPil(img, 9, 6);
    QCOMPARE(pixels(out), pixels(img));
    QVERIFY(out.data != img.data);
}

void TestImage::resizeAcceptsSubImage()
{
    // augment() resizes a crop that is a view into a larger image (rows are not contiguous).
    const cv::Mat img = randomImage(40, 30, 0, 255, 5);
    const cv::Rect box(7, 4, 19, 13);
    QCOMPARE(pixels(resizeBicubicPil(img(box), 8, 5)), pixels(resizeBicubicPil(img(box).clone(), 8, 5)));
}

void TestImage::resizeRejectsBadInput()
{
    QVERIFY_THROWS_EXCEPTION(sep::Error, resizeBicubicPil(cv::Mat(), 4, 4));
    QVERIFY_THROWS_EXCEPTION(sep::Error, resizeBicubicPil(cv::Mat(4, 4, CV_8UC1, cv::Scalar(0)), 2, 2));
    QVERIFY_THROWS_EXCEPTION(sep::Error, resizeBicubicPil(solid(4, 4, {1, 2, 3}), 0, 2));
}

// ---- shorter side, crop, normalisation -----------------------------------------------------------

void TestImage::shorterSide_data()
{
    QTest::addColumn<int>("w");
    QTest::addColumn<int>("h");
    QTest::addColumn<int>("wantW");
    QTest::addColumn<int>("wantH");
    QTest::newRow("landscape 300x200") << 300 << 200 << 336 << 224;
    QTest::newRow("portrait 200x300") << 200 << 300 << 224 << 336;
    QTest::newRow("already 224x500") << 224 << 500 << 224 << 500;
    QTest::newRow("500x375 truncates 298.67") << 500 << 375 << 298 << 224;
    QTest::newRow("square 100x100") << 100 << 100 << 224 << 224;
    QTest::newRow("tall 50x1000") << 50 << 1000 << 224 << 4480;
}

void TestImage::shorterSide()
{
    QFETCH(int, w);
    QFETCH(int, h);
    QFETCH(int, wantW);
    QFETCH(int, wantH);
    const cv::Mat out = resizeShorterSide(randomImage(w, h, 0, 255, 1), 224);
    QCOMPARE(out.cols, wantW);
    QCOMPARE(out.rows, wantH);
}

void TestImage::centerCropOffset_data()
{
    QTest::addColumn<int>("dim");
    QTest::addColumn<int>("offset");
    // Python round((dim − 224) / 2.0): exact halves go to the even neighbour.
    QTest::newRow("224 -> 0") << 224 << 0;
    QTest::newRow("225 -> round(0.5) = 0") << 225 << 0;
    QTest::newRow("226 -> 1") << 226 << 1;
    QTest::newRow("227 -> round(1.5) = 2") << 227 << 2;
    QTest::newRow("229 -> round(2.5) = 2") << 229 << 2;
    QTest::newRow("231 -> round(3.5) = 4") << 231 << 4;
    QTest::newRow("300 -> 38") << 300 << 38;
}

void TestImage::centerCropOffset()
{
    QFETCH(int, dim);
    QFETCH(int, offset);
    // Each pixel stores its own coordinates (mod 256), so the crop's corner tells where it came from.
    for (bool horizontal : {true, false}) {
        const int w = horizontal ? dim : 230;
        const int h = horizontal ? 230 : dim;
        cv::Mat img(h, w, CV_8UC3);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                img.at<cv::Vec3b>(y, x) = {uchar(x % 256), uchar(y % 256), 7};
        const cv::Mat out = centerCrop(img, 224);
        QCOMPARE(out.cols, 224);
        QCOMPARE(out.rows, 224);
        const int wantX = horizontal ? offset : 3; // 230 → round(3.0) = 3
        const int wantY = horizontal ? 3 : offset;
        QCOMPARE(int(out.at<cv::Vec3b>(0, 0)[0]), wantX);
        QCOMPARE(int(out.at<cv::Vec3b>(0, 0)[1]), wantY);
        QCOMPARE(int(out.at<cv::Vec3b>(223, 223)[0]), (wantX + 223) % 256);
        QCOMPARE(int(out.at<cv::Vec3b>(223, 223)[1]), (wantY + 223) % 256);
    }
}

void TestImage::centerCropPads()
{
    // 201 wide → pad 23: 11 left, 12 right; 101 high → pad 123: 61 top, 62 bottom (torchvision puts
    // the odd pixel on the right/bottom).
    const cv::Mat img = solid(201, 101, {9, 8, 7});
    const cv::Mat out = centerCrop(img, 224);
    QCOMPARE(out.cols, 224);
    QCOMPARE(out.rows, 224);
    const cv::Vec3b zero(0, 0, 0), value(9, 8, 7);
    QCOMPARE(out.at<cv::Vec3b>(61, 10), zero);
    QCOMPARE(out.at<cv::Vec3b>(61, 11), value);
    QCOMPARE(out.at<cv::Vec3b>(61, 211), value);
    QCOMPARE(out.at<cv::Vec3b>(61, 212), zero);
    QCOMPARE(out.at<cv::Vec3b>(60, 100), zero);
    QCOMPARE(out.at<cv::Vec3b>(161, 100), value);
    QCOMPARE(out.at<cv::Vec3b>(162, 100), zero);

    // Larger in one axis and smaller in the other: pad one, crop the other (300 → offset 38).
    cv::Mat wide(50, 300, CV_8UC3);
    for (int x = 0; x < 300; ++x)
        wide.col(x).setTo(cv::Scalar(x % 256, 1, 1));
    const cv::Mat mixed = centerCrop(wide, 224);
    QCOMPARE(mixed.at<cv::Vec3b>(87, 0), cv::Vec3b(38, 1, 1)); // pad 174 → 87 rows on top
    QCOMPARE(mixed.at<cv::Vec3b>(86, 0), zero);
    QCOMPARE(mixed.at<cv::Vec3b>(136, 0), cv::Vec3b(38, 1, 1));
    QCOMPARE(mixed.at<cv::Vec3b>(137, 0), zero);
}

void TestImage::normalizeHandPixel()
{
    // 3 wide × 2 high; pixel (x = 1, y = 1) = (255, 0, 128), the rest (0, 0, 0).
    //   R: (255/255 − 0.48145466) / 0.26862954 = 0.51854534 / 0.26862954 =  1.9303361
    //   G: (0 − 0.4578275) / 0.26130258                                   = −1.7520971
    //   B: (128/255 − 0.40821073) / 0.27577711 = 0.09375005 / 0.27577711   =  0.3399494
    cv::Mat img(2, 3, CV_8UC3, cv::Scalar(0, 0, 0));
    img.at<cv::Vec3b>(1, 1) = {255, 0, 128};
    const std::vector<float> chw = normalizeToChw(img);
    QCOMPARE(chw.size(), size_t(3 * 2 * 3));
    const int plane = 6, at = 1 * 3 + 1; // channel-major: c·h·w + y·w + x
    QVERIFY(std::abs(chw[0 * plane + at] - 1.9303361f) < 1e-5f);
    QVERIFY(std::abs(chw[1 * plane + at] - -1.7520971f) < 1e-5f);
    QVERIFY(std::abs(chw[2 * plane + at] - 0.3399494f) < 1e-5f);
    // A black pixel is −mean/std in every channel.
    for (int c = 0; c < 3; ++c)
        QVERIFY(std::abs(chw[c * plane] - (-kClipMean[c] / kClipStd[c])) < 1e-6f);
}

void TestImage::preprocessConstantImage()
{
    const cv::Mat img = solid(500, 375, {30, 140, 250});
    const std::vector<float> out = preprocess(img, 224);
    QCOMPARE(out.size(), size_t(3 * 224 * 224));
    const int rgb[3] = {30, 140, 250};
    for (int c = 0; c < 3; ++c) {
        const float want = (rgb[c] / 255.0f - kClipMean[c]) / kClipStd[c];
        for (int i = 0; i < 224 * 224; i += 997)
            QCOMPARE(out[size_t(c) * 224 * 224 + i], want);
    }
}

void TestImage::preprocessSpeed()
{
    // Not a pass/fail benchmark; prints the time so regressions are visible in the log.
    const cv::Mat img = randomImage(500, 375, 0, 255, 11);
    preprocess(img, 224); // warm-up
    const int runs = 50;
    const auto start = std::chrono::steady_clock::now();
    double checksum = 0;
    for (int i = 0; i < runs; ++i)
        checksum += preprocess(img, 224)[i];
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / runs;
    qInfo("preprocess 500x375 -> 3x224x224: %.3f ms per image (checksum %.3f)", ms, checksum);
    QVERIFY(ms < 1000);
}

// ---- random resized crop, augment ----------------------------------------------------------------

void TestImage::cropBoxWithinBounds()
{
    std::mt19937_64 rng(1234);
    const int w = 640, h = 480;
    int fallbacks = 0;
    double sumX = 0, sumY = 0;
    int countX = 0, countY = 0;
    for (int i = 0; i < 5000; ++i) {
        const cv::Rect r = randomResizedCropBox(w, h, rng);
        // Where there is room, the position is uniform over it.
        if (r.width < w) {
            sumX += double(r.x) / (w - r.width);
            ++countX;
        }
        if (r.height < h) {
            sumY += double(r.y) / (h - r.height);
            ++countY;
        }
        QVERIFY(r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0);
        QVERIFY(r.x + r.width <= w && r.y + r.height <= h);
        // Rounding each side to whole pixels moves the area and aspect a little off the drawn values;
        // ±0.5 px on each side bounds that.
        const double areaLo = (0.08 * w * h), areaHi = double(w) * h;
        const double area = double(r.width) * r.height;
        QVERIFY2(area >= areaLo - (r.width + r.height + 1) && area <= areaHi,
                 qPrintable(QStringLiteral("area %1").arg(area)));
        const double aspectLo = (r.width - 0.5) / (r.height + 0.5), aspectHi = (r.width + 0.5) / (r.height - 0.5);
        QVERIFY2(aspectHi >= 3.0 / 4.0 && aspectLo <= 4.0 / 3.0,
                 qPrintable(QStringLiteral("box %1x%2").arg(r.width).arg(r.height)));
        fallbacks += r == cv::Rect(0, 0, w, h); // 640/480 is within 3/4..4/3, so the fallback is the whole image
    }
    QVERIFY(fallbacks < 50); // a 4:3 image almost always succeeds within ten tries
    // Mean of a uniform 0..1 position: 0.5 with sd ≈ 0.29/√n ≈ 0.004 here; ±0.05 is > 10 sd.
    QVERIFY(countX > 1000 && countY > 1000);
    QVERIFY2(std::abs(sumX / countX - 0.5) < 0.05, qPrintable(QString::number(sumX / countX)));
    QVERIFY2(std::abs(sumY / countY - 0.5) < 0.05, qPrintable(QString::number(sumY / countY)));
}

void TestImage::cropBoxDeterministic()
{
    auto draws = [](uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::vector<cv::Rect> v;
        for (int i = 0; i < 100; ++i)
            v.push_back(randomResizedCropBox(333, 500, rng));
        return v;
    };
    QVERIFY(draws(99) == draws(99));
    QVERIFY(draws(99) != draws(100));
}

void TestImage::cropBoxFallback_data()
{
    QTest::addColumn<int>("w");
    QTest::addColumn<int>("h");
    QTest::addColumn<double>("scaleMin");
    QTest::addColumn<double>("scaleMax");
    QTest::addColumn<double>("ratioMin");
    QTest::addColumn<double>("ratioMax");
    QTest::addColumn<cv::Rect>("expected");
    // 1000×10: any crop of ≥ 8% of the area at aspect ≤ 4/3 is taller than 10 px, so all ten tries
    // fail. in_ratio 100 > 4/3 → h = 10, w = round(13.33) = 13, x = (1000 − 13) // 2 = 493.
    QTest::newRow("wide 1000x10") << 1000 << 10 << 0.08 << 1.0 << 0.75 << 4.0 / 3.0 << cv::Rect(493, 0, 13, 10);
    QTest::newRow("tall 10x1000") << 10 << 1000 << 0.08 << 1.0 << 0.75 << 4.0 / 3.0 << cv::Rect(0, 493, 10, 13);
    // Square 10×10 asked for ratio 2..3 at full area: w ≥ round(√200) = 14 > 10 always fails;
    // in_ratio 1 < 2 → w = 10, h = round(10 / 2) = 5, y = (10 − 5) // 2 = 2.
    QTest::newRow("ratio above image") << 10 << 10 << 1.0 << 1.0 << 2.0 << 3.0 << cv::Rect(0, 2, 10, 5);
    // 150% of the area never fits; the ratio range contains the image's → the whole image.
    QTest::newRow("whole image") << 10 << 10 << 1.5 << 1.5 << 0.5 << 2.0 << cv::Rect(0, 0, 10, 10);
}

void TestImage::cropBoxFallback()
{
    QFETCH(int, w);
    QFETCH(int, h);
    QFETCH(double, scaleMin);
    QFETCH(double, scaleMax);
    QFETCH(double, ratioMin);
    QFETCH(double, ratioMax);
    QFETCH(cv::Rect, expected);
    for (uint64_t seed = 0; seed < 20; ++seed) {
        std::mt19937_64 rng(seed);
        const cv::Rect r = randomResizedCropBox(w, h, rng, scaleMin, scaleMax, ratioMin, ratioMax);
        QCOMPARE(r, expected);
    }
}

void TestImage::augmentShapeAndDeterminism()
{
    const cv::Mat img = randomImage(120, 90, 0, 255, 8);
    std::mt19937_64 a(5), b(5);
    const std::vector<float> x = augment(img, 32, a);
    QCOMPARE(x.size(), size_t(3 * 32 * 32));
    QCOMPARE(augment(img, 32, b), x);
    // Every value is a normalised 8-bit value of its channel.
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 32 * 32; ++i) {
            const float v = x[size_t(c) * 32 * 32 + i];
            QVERIFY(v >= -kClipMean[c] / kClipStd[c] - 1e-5f && v <= (1.0f - kClipMean[c]) / kClipStd[c] + 1e-5f);
        }
    // The generator moved on, so the next draw differs.
    QVERIFY(augment(img, 32, a) != x);
}

void TestImage::augmentFlipsAboutHalf()
{
    // Red rises left to right across the whole image. The smallest crop (8% of 400×400 at 4:3) is
    // still ~98 px wide, so red either rises (no flip) or falls (flipped) across the output.
    cv::Mat img(400, 400, CV_8UC3);
    for (int x = 0; x < 400; ++x)
        img.col(x).setTo(cv::Scalar(x * 255 / 399, 100, 100));
    std::mt19937_64 rng(2024);
    const int runs = 400, size = 16;
    int flipped = 0;
    for (int i = 0; i < runs; ++i) {
        const std::vector<float> out = augment(img, size, rng);
        const float left = out[size / 2 * size], right = out[size / 2 * size + size - 1];
        QVERIFY(left != right);
        flipped += left > right;
    }
    // Binomial(400, 0.5): mean 200, sd 10; the bounds are 5 sd away.
    QVERIFY2(flipped > 150 && flipped < 250, qPrintable(QStringLiteral("%1 of %2 flipped").arg(flipped).arg(runs)));
}

// ---- decodeImage ---------------------------------------------------------------------------------

void TestImage::decodeChannelOrder_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<cv::Vec3b>("expected");
    QTest::addColumn<int>("tolerance");
    // OpenCV stores BGR, so these images are built in BGR order; decodeImage must hand back RGB.
    const cv::Mat redBgr(6, 5, CV_8UC3, cv::Scalar(0, 0, 255));
    QTest::newRow("PNG pure red") << QStringLiteral("red.png") << encode(".png", redBgr) << cv::Vec3b(255, 0, 0) << 0;
    // JPEG is lossy and subsamples chroma; a flat colour still comes back within a few levels.
    QTest::newRow("JPEG pure red") << QStringLiteral("red.jpg") << encode(".jpg", redBgr) << cv::Vec3b(255, 0, 0) << 4;
    QTest::newRow("BMP pure red") << QStringLiteral("red.bmp") << encode(".bmp", redBgr) << cv::Vec3b(255, 0, 0) << 0;
    // 16-bit: the high byte is kept, as PIL does for 16-bit RGB PNGs (0xABCD → 0xAB, 0x12FF → 0x12).
    const cv::Mat deep(4, 3, CV_16UC3, cv::Scalar(0x0101, 0x12FF, 0xABCD));
    QTest::newRow("16-bit PNG") << QStringLiteral("deep.png") << encode(".png", deep) << cv::Vec3b(0xAB, 0x12, 0x01) << 0;
    const cv::Mat gray(4, 3, CV_8UC1, cv::Scalar(77));
    QTest::newRow("gray PNG") << QStringLiteral("gray.png") << encode(".png", gray) << cv::Vec3b(77, 77, 77) << 0;
    const cv::Mat gray16(4, 3, CV_16UC1, cv::Scalar(0xC8FF));
    QTest::newRow("16-bit gray PNG") << QStringLiteral("gray16.png") << encode(".png", gray16) << cv::Vec3b(0xC8, 0xC8, 0xC8) << 0;
    // Alpha is dropped, not blended: a nearly transparent pixel keeps its colour.
    const cv::Mat rgba(4, 3, CV_8UC4, cv::Scalar(200, 100, 50, 10));
    QTest::newRow("RGBA PNG") << QStringLiteral("rgba.png") << encode(".png", rgba) << cv::Vec3b(50, 100, 200) << 0;
    QTest::newRow("WebP lossless") << QStringLiteral("red.webp")
        << [&] { std::vector<uchar> b; cv::imencode(".webp", redBgr, b, {cv::IMWRITE_WEBP_QUALITY, 101});
                 return QByteArray(reinterpret_cast<const char *>(b.data()), int(b.size())); }()
        << cv::Vec3b(255, 0, 0) << 0;
    QTest::newRow("TIFF") << QStringLiteral("red.tif") << encode(".tif", redBgr) << cv::Vec3b(255, 0, 0) << 0;
    QTest::newRow("PPM") << QStringLiteral("red.ppm") << encode(".ppm", redBgr) << cv::Vec3b(255, 0, 0) << 0;
}

void TestImage::decodeChannelOrder()
{
    QFETCH(QString, file);
    QFETCH(QByteArray, bytes);
    QFETCH(cv::Vec3b, expected);
    QFETCH(int, tolerance);
    QVERIFY(!bytes.isEmpty());
    QVERIFY(writeBytes(path(file), bytes));
    const cv::Mat img = decodeImage(path(file).toStdString());
    QCOMPARE(img.type(), CV_8UC3);
    QVERIFY(img.cols > 0 && img.rows > 0);
    for (int y = 0; y < img.rows; ++y)
        for (int x = 0; x < img.cols; ++x)
            for (int c = 0; c < 3; ++c)
                QVERIFY2(std::abs(int(img.at<cv::Vec3b>(y, x)[c]) - int(expected[c])) <= tolerance,
                         qPrintable(QStringLiteral("pixel (%1,%2) channel %3 = %4, want %5")
                                        .arg(x).arg(y).arg(c).arg(img.at<cv::Vec3b>(y, x)[c]).arg(expected[c])));
}

void TestImage::decodeNonAsciiName()
{
    QDir(m_dir.path()).mkdir(QStringLiteral("données"));
    const QString file = path(QStringLiteral("données/café_画像.png"));
    const cv::Mat bgr(3, 7, CV_8UC3, cv::Scalar(10, 20, 30));
    QVERIFY(writeBytes(file, encode(".png", bgr)));
    const cv::Mat img = decodeImage(file.toStdString()); // std::string carries UTF-8
    QCOMPARE(img.size(), cv::Size(7, 3));
    QCOMPARE(img.at<cv::Vec3b>(1, 1), cv::Vec3b(30, 20, 10));

    // A missing non-ASCII file still names itself correctly in the message.
    const QString missing = path(QStringLiteral("données/absent_画像.png"));
    QVERIFY(decodeError(missing).contains(QStringLiteral("absent_画像.png")));
}

void TestImage::decodeFromMemory()
{
    const QByteArray png = encode(".png", cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3)));
    const std::vector<uint8_t> bytes(png.begin(), png.end());
    const cv::Mat img = decodeImage(bytes, "in-memory.png");
    QCOMPARE(img.at<cv::Vec3b>(0, 0), cv::Vec3b(3, 2, 1));
    try {
        decodeImage(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 40), "upload #3");
        QFAIL("a truncated PNG decoded");
    } catch (const sep::Error &e) {
        QVERIFY(QString::fromStdString(e.what()).contains(QStringLiteral("upload #3")));
    }
}

void TestImage::decodeToleratesTrailingBytes()
{
    // Camera trailers and padding after the end marker are common and harmless.
    const cv::Mat bgr(5, 5, CV_8UC3, cv::Scalar(0, 0, 255));
    QVERIFY(writeBytes(path(QStringLiteral("trailer.png")), encode(".png", bgr) + QByteArray(100, '\0')));
    QCOMPARE(decodeImage(path(QStringLiteral("trailer.png")).toStdString()).at<cv::Vec3b>(2, 2), cv::Vec3b(255, 0, 0));
    QVERIFY(writeBytes(path(QStringLiteral("trailer.jpg")), encode(".jpg", bgr) + QByteArray("MOREDATA\xFF\xD8junk")));
    QVERIFY(decodeImage(path(QStringLiteral("trailer.jpg")).toStdString()).at<cv::Vec3b>(2, 2)[0] > 240);
}

void TestImage::decodeRefusesOversizeBeforeDecoding()
{
    auto errorOf = [](const std::vector<uint8_t> &bytes, const char *name) {
        try {
            decodeImage(bytes, name);
        } catch (const sep::Error &e) {
            return QString::fromStdString(e.what());
        }
        return QString();
    };
    // A JPEG whose frame header declares 60000 × 50000 pixels (3 gigapixels) over 8 × 8 of data:
    // the header alone must stop it, whatever the decoder would have done.
    const QByteArray jpeg = encode(".jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(9, 99, 199)));
    std::vector<uint8_t> big(jpeg.begin(), jpeg.end());
    size_t sof = 2;
    while (sof + 1 < big.size() && !(big[sof] == 0xFF && big[sof + 1] == 0xC0))
        ++sof;
    QVERIFY(sof + 9 < big.size());
    big[sof + 5] = 50000 >> 8, big[sof + 6] = 50000 & 0xFF;   // height
    big[sof + 7] = 60000 >> 8, big[sof + 8] = 60000 & 0xFF;   // width
    QString msg = errorOf(big, "huge.jpg");
    QVERIFY2(msg.contains(QStringLiteral("huge.jpg")) && msg.contains(QStringLiteral("60000 × 50000"))
                 && msg.contains(QStringLiteral("SEP_MAX_IMAGE_PIXELS")),
             qPrintable(msg));

    // 20 bytes of ASCII PGM declaring 10 gigapixels: refused from the header, not allocated by the decoder.
    const std::string pgm = "P2\n100000 100000\n255\n3";
    msg = errorOf(std::vector<uint8_t>(pgm.begin(), pgm.end()), "huge.pgm");
    QVERIFY2(msg.contains(QStringLiteral("huge.pgm")) && msg.contains(QStringLiteral("SEP_MAX_IMAGE_PIXELS")), qPrintable(msg));

    // A 1 × 300000 strip decodes to little, but its shorter side resized to 224 would not.
    const QByteArray strip = encode(".png", cv::Mat(1, 300000, CV_8UC3, cv::Scalar(1, 2, 3)));
    QVERIFY(strip.size() < 20000);
    msg = errorOf(std::vector<uint8_t>(strip.begin(), strip.end()), "strip.png");
    QVERIFY2(msg.contains(QStringLiteral("strip.png")) && msg.contains(QStringLiteral("300000 × 1")), qPrintable(msg));

    // Within both limits: an ordinary wide panorama still decodes.
    const QByteArray wide = encode(".png", cv::Mat(10, 4000, CV_8UC3, cv::Scalar(1, 2, 3)));
    QCOMPARE(decodeImage(std::vector<uint8_t>(wide.begin(), wide.end()), "wide.png").cols, 4000);
}

void TestImage::decodeReportsRepairedJpeg()
{
    cv::Mat noise(64, 64, CV_8UC3);
    cv::randu(noise, 0, 256);
    const QByteArray jpeg = encode(".jpg", noise);
    std::vector<uint8_t> clean(jpeg.begin(), jpeg.end());
    std::string warning = "stale";
    QVERIFY(!decodeImage(clean, "clean.jpg", &warning).empty());
    QVERIFY2(warning.empty(), warning.c_str());

    // The compressed data cut in the middle of the scan and closed with an end-of-image marker: the
    // file is well formed, libjpeg fills the missing blocks and only warns; the caller must hear it.
    size_t sos = 2;
    while (sos + 1 < clean.size() && !(clean[sos] == 0xFF && clean[sos + 1] == 0xDA))
        ++sos;
    QVERIFY(sos + 1 < clean.size());
    std::vector<uint8_t> cut(clean.begin(), clean.begin() + static_cast<long>(sos + (clean.size() - sos) / 2));
    while (cut.back() == 0xFF)   // never split a 0xFF00 stuffing pair
        cut.pop_back();
    cut.push_back(0xFF);
    cut.push_back(0xD9);
    const cv::Mat repaired = decodeImage(cut, "cut.jpg", &warning);
    QCOMPARE(repaired.cols, 64);
    QVERIFY2(warning.find("damaged") != std::string::npos && warning.find("libjpeg") != std::string::npos, warning.c_str());
    // Without a place for the warning the image still decodes (and nothing is thrown).
    QCOMPARE(decodeImage(cut, "cut.jpg").rows, 64);
}

void TestImage::decodeBadInput_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QByteArray>("bytes"); // written unless null
    QTest::addColumn<QString>("reason");

    // A busy image so the compressed data is long enough to cut in meaningful places.
    cv::Mat noise(64, 64, CV_8UC3);
    cv::randu(noise, 0, 256);
    const QByteArray png = encode(".png", noise);
    const QByteArray jpg = encode(".jpg", noise);

    QTest::newRow("missing") << QStringLiteral("missing.png") << QByteArray() << QStringLiteral("not found");
    QTest::newRow("zero bytes") << QStringLiteral("empty.png") << QByteArray("") << QStringLiteral("empty file (0 bytes)");
    QTest::newRow("directory") << QStringLiteral("folder.png") << QByteArray() << QStringLiteral("is a directory");
    QTest::newRow("text renamed .png") << QStringLiteral("notes.png") << QByteArray("label,file\ncat,1.png\n")
                                       << QStringLiteral("not an image file (unrecognised format; looks like text");
    QTest::newRow("html renamed .jpg") << QStringLiteral("page.jpg") << QByteArray("<!DOCTYPE html><html>404</html>")
                                       << QStringLiteral("HTML page");
    QTest::newRow("PNG cut in half") << QStringLiteral("half.png") << png.left(png.size() / 2)
                                     << QStringLiteral("PNG data is corrupt or truncated");
    QTest::newRow("PNG without IEND") << QStringLiteral("noiend.png") << png.left(png.size() - 12)
                                      << QStringLiteral("PNG data is corrupt or truncated");
    // Damage inside the IDAT chunk (sizes intact): caught by its checksum...
    const int idat = png.indexOf("IDAT") - 4;
    QVERIFY(idat > 0);
    QByteArray flipped = png;
    for (int i = idat + 20; i < idat + 160; ++i)
        flipped[i] = char(~flipped[i]);
    QTest::newRow("PNG checksum mismatch") << QStringLiteral("flipped.png") << flipped
                                           << QStringLiteral("PNG data is corrupt (checksum mismatch in the 'IDAT' chunk");
    // ...and, with the checksum made to match, by the decoder itself.
    const quint32 idatLength = qFromBigEndian<quint32>(flipped.constData() + idat);
    const quint32 crc = pngCrc(flipped.mid(idat + 4, int(idatLength) + 4));
    qToBigEndian(crc, flipped.data() + idat + 8 + idatLength);
    QTest::newRow("PNG data corrupted") << QStringLiteral("garbled.png") << flipped
                                        << QStringLiteral("PNG data is corrupt or truncated (the decoder rejected it)");
    QTest::newRow("JPEG cut in half") << QStringLiteral("half.jpg") << jpg.left(jpg.size() / 2)
                                      << QStringLiteral("JPEG data is truncated");
    QTest::newRow("JPEG without EOI") << QStringLiteral("noeoi.jpg") << jpg.left(jpg.size() - 2)
                                      << QStringLiteral("JPEG data is truncated");
    QTest::newRow("JPEG header only") << QStringLiteral("head.jpg") << jpg.left(30)
                                      << QStringLiteral("JPEG data is truncated");
    QByteArray random(4096, '\0');
    std::mt19937 rng(3);
    for (char &c : random)
        c = char(rng() & 0xFF);
    random[0] = char(0x00); // not by chance a known signature
    QTest::newRow("random bytes") << QStringLiteral("noise.png") << random
                                  << QStringLiteral("not an image file (unrecognised format");
    const QByteArray bmp = encode(".bmp", noise);
    QTest::newRow("BMP cut in half") << QStringLiteral("half.bmp") << bmp.left(bmp.size() / 2)
                                     << QStringLiteral("BMP data is truncated");
    const QByteArray webp = encode(".webp", noise);
    QTest::newRow("WebP cut in half") << QStringLiteral("half.webp") << webp.left(webp.size() / 2)
                                      << QStringLiteral("WebP data is truncated");
    const QByteArray ppm = encode(".ppm", noise);
    QTest::newRow("PPM cut in half") << QStringLiteral("half.ppm") << ppm.left(ppm.size() / 2)
                                     << QStringLiteral("PNM data is truncated");
    QTest::newRow("GIF (no codec in OpenCV 4.6)") << QStringLiteral("anim.gif")
        << QByteArray("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14) << QStringLiteral("GIF");
}

void TestImage::decodeBadInput()
{
    QFETCH(QString, file);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, reason);
    const QString full = path(file);
    if (file == QLatin1String("folder.png"))
        QVERIFY(QDir().mkpath(full));
    else if (!bytes.isNull())
        QVERIFY(writeBytes(full, bytes));

    const QString message = decodeError(full);
    QVERIFY2(!message.isEmpty(), "no sep::Error thrown");
    QVERIFY2(message.contains(full), qPrintable(message));
    QVERIFY2(message.contains(reason), qPrintable(message));
}

void TestImage::decodePermissionDenied()
{
    const QString full = path(QStringLiteral("locked.png"));
    QVERIFY(writeBytes(full, encode(".png", cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3)))));
    QVERIFY(QFile::setPermissions(full, QFileDevice::WriteOwner));
    QFile probe(full);
    if (probe.open(QIODevice::ReadOnly))
        QSKIP("this user can read any file (root); permission errors cannot be produced here");
    const QString message = decodeError(full);
    QVERIFY2(message.contains(full) && message.contains(QStringLiteral("permission denied")), qPrintable(message));
}

void TestImage::decodeSurvivesDamagedFiles()
{
    // Whatever the damage, the answer is an RGB image or a sep::Error naming the file: never a crash,
    // never another exception type.
    cv::Mat noise(40, 48, CV_8UC3);
    cv::randu(noise, 0, 256);
    std::mt19937_64 rng(77);
    for (const char *ext : {".png", ".jpg", ".bmp", ".webp", ".tif", ".ppm"}) {
        const QByteArray encoded = encode(ext, noise);
        QVERIFY(!encoded.isEmpty());
        const std::vector<uint8_t> original(encoded.begin(), encoded.end());
        for (int i = 0; i < 100; ++i) {
            std::vector<uint8_t> b = original;
            if (i % 3 != 1)
                for (int k = 0, n = 1 + int(rng() % 8); k < n; ++k)
                    b[rng() % b.size()] = uint8_t(rng());
            if (i % 3 != 0)
                b.resize(1 + rng() % b.size());
            try {
                const cv::Mat img = decodeImage(b, "damaged");
                QCOMPARE(img.type(), CV_8UC3);
            } catch (const sep::Error &e) {
                QVERIFY(QString::fromStdString(e.what()).startsWith(QStringLiteral("damaged: ")));
            }
        }
    }
}

QTEST_GUILESS_MAIN(TestImage)
#include "test_image.moc"
