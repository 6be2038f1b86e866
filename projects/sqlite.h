#pragma once
// A thin layer over the sqlite3 C API for the project store: a connection, prepared statements with
// typed binds and reads, and a transaction that rolls back unless committed. Every failure becomes a
// sep::Error that names the database file and says what the SQLite result means for a person (disk
// full, read-only, damaged, busy).
//
//   sep::projects::Database db(path, SQLITE_OPEN_READWRITE);
//   sep::projects::Transaction tx(db);
//   auto st = db.prepare("INSERT INTO runs(method) VALUES (?)");
//   st.bind(1, "sep");
//   st.run();
//   tx.commit();   // leaving the scope without commit() rolls everything back
//
// A Database and its statements belong to one thread at a time.

#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sep::projects {

class Database;

class Statement {
public:
    Statement() = default;
    Statement(Database &db, const std::string &sql);
    ~Statement();
    Statement(Statement &&other) noexcept;
    Statement &operator=(Statement &&other) noexcept;
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;

    // Parameters are 1-based, as in SQL text.
    Statement &bind(int index, int64_t value);
    Statement &bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Statement &bind(int index, double value);
    Statement &bind(int index, const std::string &value);
    Statement &bind(int index, const char *value) { return bind(index, std::string(value)); }
    Statement &bindBlob(int index, const std::vector<uint8_t> &bytes);
    Statement &bindNull(int index);

    // Steps once: true while there is a row to read.
    bool step();
    // Steps to the end (for statements without results).
    void run();
    // Makes the statement ready to run again with new binds.
    void reset();

    bool isNull(int column) const;
    int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::vector<uint8_t> blob(int column) const;

private:
    Database *m_db = nullptr;
    sqlite3_stmt *m_stmt = nullptr;
};

class Database {
public:
    Database() = default;
    // flags: SQLITE_OPEN_* (READONLY or READWRITE, plus URI where `path` is a file: URI). `label` is
    // the name used in messages (the project file as the user named it); `vfs` an SQLite VFS name
    // ("" for the default).
    Database(const std::string &path, int flags, const std::string &label = {}, const std::string &vfs = {});
    ~Database();
    Database(Database &&other) noexcept;
    Database &operator=(Database &&other) noexcept;
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    bool isOpen() const { return m_db != nullptr; }
    void close();

    // Runs one or more statements that return nothing of interest.
    void exec(const std::string &sql);
    Statement prepare(const std::string &sql) { return Statement(*this, sql); }
    // The first column of the first row of a query, or `fallback` when there is no row.
    int64_t queryInt(const std::string &sql, int64_t fallback = 0);
    std::string queryText(const std::string &sql, const std::string &fallback = {});
    int64_t lastInsertId() const;
    int64_t changes() const;

    // Throws sep::Error for a failed sqlite3 call: "<label>: <what> failed: <SQLite's message>. <advice>".
    [[noreturn]] void fail(int code, const std::string &what) const;
    const std::string &label() const { return m_label; }
    sqlite3 *handle() const { return m_db; }

private:
    sqlite3 *m_db = nullptr;
    std::string m_label;
};

// BEGIN IMMEDIATE in the constructor (so a second writer waits on busy_timeout at the start rather
// than failing half-way); ROLLBACK in the destructor unless commit() succeeded. Not nestable.
class Transaction {
public:
    explicit Transaction(Database &db);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    void commit();

private:
    Database &m_db;
    bool m_done = false;
};

// A person's reading of an SQLite result code: what probably happened and what to do.
std::string adviceFor(int code);

} // namespace sep::projects
