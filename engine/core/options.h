#pragma once
// Describing an options struct once, so the CLI, the GUI's "advanced" pages, the run folders and the
// project store all read and write the same fields without a second copy of names, defaults or ranges.
//
//   struct MyOptions { int64_t epochs = 10; double lr = 0.0025; };
//   const sep::OptionTable<MyOptions> &table() {
//       static const sep::OptionTable<MyOptions> t{{
//           sep::intField(&MyOptions::epochs, "epochs", "Epochs", "Passes over the training set", 1, 10000),
//           sep::realField(&MyOptions::lr, "lr", "Learning rate", "Peak learning rate", 0, 1),
//       }};
//       return t;
//   }
//   nlohmann::json j = table().toJson(opts);          // {"epochs": 10, "lr": 0.0025}
//   MyOptions o = table().fromJson(j);                 // validates types and ranges; sep::Error names the key
//
// Torch-free. Thread-safe once built (tables are immutable).

#include "engine/core/error.h"
#include "engine/core/text.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace sep {

struct OptionSpec {
    enum class Type { Int, Real, Bool, Choice, Text };
    std::string key;      // JSON and CLI name ("n_ctx" → --n-ctx)
    std::string label;    // short human name
    std::string help;     // one sentence: what it changes
    Type type = Type::Int;
    double min = 0, max = 0;               // Int and Real
    std::vector<std::string> choices;      // Choice
    nlohmann::json defaultValue;
    bool classTemplate = false;            // Text: a prompt template with exactly one "{}" for the class name
};

// What a spec accepts, in words: "a whole number ≥ 1", "a number from 0 to 1", "one of a, b".
// Bounds beyond 1e15 are left out rather than printed as 300-digit numbers.
inline std::string describeValues(const OptionSpec &s)
{
    auto num = [](double x) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", x);
        return std::string(buf);
    };
    const bool low = s.min > -1e15, high = s.max < 1e15;
    switch (s.type) {
    case OptionSpec::Type::Int:
    case OptionSpec::Type::Real: {
        const std::string kind = s.type == OptionSpec::Type::Int ? "a whole number" : "a finite number";
        if (low && high)
            return kind + " from " + num(s.min) + " to " + num(s.max);
        if (low)
            return kind + " ≥ " + num(s.min);
        if (high)
            return kind + " ≤ " + num(s.max);
        return kind;
    }
    case OptionSpec::Type::Bool:
        return "true or false";
    case OptionSpec::Type::Choice: {
        std::string list;
        for (const auto &c : s.choices)
            list += (list.empty() ? "" : ", ") + c;
        return "one of " + list;
    }
    case OptionSpec::Type::Text:
        break;
    }
    return "text";
}

template <typename T>
struct OptionField {
    OptionSpec spec;
    std::function<nlohmann::json(const T &)> get;
    std::function<void(T &, const nlohmann::json &)> set;
};

template <typename T>
class OptionTable {
public:
    explicit OptionTable(std::vector<OptionField<T>> fields) : m_fields(std::move(fields))
    {
        const T defaults{};
        for (auto &f : m_fields)
            f.spec.defaultValue = f.get(defaults);
    }

    const std::vector<OptionField<T>> &fields() const { return m_fields; }
    std::vector<OptionSpec> specs() const
    {
        std::vector<OptionSpec> out;
        for (const auto &f : m_fields)
            out.push_back(f.spec);
        return out;
    }

    nlohmann::json toJson(const T &value) const
    {
        nlohmann::json j = nlohmann::json::object();
        for (const auto &f : m_fields)
            j[f.spec.key] = f.get(value);
        return j;
    }

    // Keys not given keep their defaults; unknown keys are an error (a typo must not pass silently).
    T fromJson(const nlohmann::json &j, const std::string &context = "options") const
    {
        T value{};
        apply(value, j, context);
        return value;
    }

    void apply(T &value, const nlohmann::json &j, const std::string &context = "options") const
    {
        if (!j.is_object())
            throw Error(context + ": expected a JSON object");
        for (auto it = j.begin(); it != j.end(); ++it) {
            const OptionField<T> *field = find(it.key());
            if (!field)
                throw Error(context + ": unknown option '" + it.key() + "'");
            field->set(value, check(field->spec, it.value(), context));
        }
    }

    const OptionField<T> *find(const std::string &key) const
    {
        for (const auto &f : m_fields)
            if (f.spec.key == key)
                return &f;
        return nullptr;
    }

private:
    static nlohmann::json check(const OptionSpec &s, const nlohmann::json &v, const std::string &context)
    {
        const std::string where = context + ": option '" + s.key + "'";
        switch (s.type) {
        case OptionSpec::Type::Int:
            if (!v.is_number_integer())
                throw Error(where + " must be a whole number");
            if (!inRange(s, v.get<double>()))
                throw Error(where + " must be " + range(s) + ", got " + v.dump());
            break;
        case OptionSpec::Type::Real:
            if (!v.is_number())
                throw Error(where + " must be a number");
            if (!inRange(s, v.get<double>()))
                throw Error(where + " must be " + range(s) + ", got " + v.dump());
            break;
        case OptionSpec::Type::Bool:
            if (!v.is_boolean())
                throw Error(where + " must be true or false");
            break;
        case OptionSpec::Type::Choice: {
            if (!v.is_string() || std::find(s.choices.begin(), s.choices.end(), v.get<std::string>()) == s.choices.end()) {
                std::string list;
                for (const auto &c : s.choices)
                    list += (list.empty() ? "" : ", ") + c;
                throw Error(where + " must be one of " + list + ", got " + v.dump());
            }
            break;
        }
        case OptionSpec::Type::Text:
            if (!v.is_string())
                throw Error(where + " must be text");
            if (s.classTemplate) {
                const std::string t = v.get<std::string>();
                const auto first = t.find("{}");
                if (first == std::string::npos || t.find("{}", first + 2) != std::string::npos)
                    throw Error(where + " must contain {} exactly once, where the class name goes (e.g. \"a photo of a "
                                        "{}.\"), got " + shortened(v.dump()));
            }
            break;
        }
        return v;
    }
    // Written so that NaN, which fails every comparison, is out of range.
    static bool inRange(const OptionSpec &s, double x) { return x >= s.min && x <= s.max; }
    static std::string range(const OptionSpec &s) { return describeValues(s); }

    std::vector<OptionField<T>> m_fields;
};

template <typename T, typename I>
OptionField<T> intField(I T::*member, std::string key, std::string label, std::string help, double min, double max)
{
    OptionField<T> f;
    f.spec = {std::move(key), std::move(label), std::move(help), OptionSpec::Type::Int, min, max, {}, {}, false};
    f.get = [member](const T &t) { return nlohmann::json(t.*member); };
    f.set = [member](T &t, const nlohmann::json &v) { t.*member = v.get<I>(); };
    return f;
}

template <typename T>
OptionField<T> realField(double T::*member, std::string key, std::string label, std::string help, double min, double max)
{
    OptionField<T> f;
    f.spec = {std::move(key), std::move(label), std::move(help), OptionSpec::Type::Real, min, max, {}, {}, false};
    f.get = [member](const T &t) { return nlohmann::json(t.*member); };
    f.set = [member](T &t, const nlohmann::json &v) { t.*member = v.get<double>(); };
    return f;
}

template <typename T>
OptionField<T> boolField(bool T::*member, std::string key, std::string label, std::string help)
{
    OptionField<T> f;
    f.spec = {std::move(key), std::move(label), std::move(help), OptionSpec::Type::Bool, 0, 1, {}, {}, false};
    f.get = [member](const T &t) { return nlohmann::json(t.*member); };
    f.set = [member](T &t, const nlohmann::json &v) { t.*member = v.get<bool>(); };
    return f;
}

template <typename T>
OptionField<T> textField(std::string T::*member, std::string key, std::string label, std::string help)
{
    OptionField<T> f;
    f.spec = {std::move(key), std::move(label), std::move(help), OptionSpec::Type::Text, 0, 0, {}, {}, false};
    f.get = [member](const T &t) { return nlohmann::json(t.*member); };
    f.set = [member](T &t, const nlohmann::json &v) { t.*member = v.get<std::string>(); };
    return f;
}

// A prompt template: text with exactly one "{}", checked wherever options are read.
template <typename T>
OptionField<T> templateField(std::string T::*member, std::string key, std::string label, std::string help)
{
    OptionField<T> f = textField(member, std::move(key), std::move(label), std::move(help));
    f.spec.classTemplate = true;
    return f;
}

// An enum stored as one of `choices` (the enum's values in order).
template <typename T, typename E>
OptionField<T> choiceField(E T::*member, std::string key, std::string label, std::string help,
                           std::vector<std::string> choices)
{
    OptionField<T> f;
    f.spec = {std::move(key), std::move(label), std::move(help), OptionSpec::Type::Choice, 0, 0, choices, {}, false};
    f.get = [member, choices](const T &t) { return nlohmann::json(choices.at(static_cast<size_t>(t.*member))); };
    f.set = [member, choices](T &t, const nlohmann::json &v) {
        const auto it = std::find(choices.begin(), choices.end(), v.get<std::string>());
        t.*member = static_cast<E>(it - choices.begin());
    };
    return f;
}

} // namespace sep
