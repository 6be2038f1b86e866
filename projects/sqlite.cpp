#include "projects/sqlite.h"

#include "engine/core/error.h"

#include <sqlite3.h>

#include <utility>

namespace sep::projects {

std::string adviceFor(int code)
{
    switch (code & 0xff) {
    case SQLITE_FULL:
        return "The disk (or the project's size limit) is full: free some space and try again. This change was not "
               "saved; what the project held before is intact.";
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return "The project file or its folder cannot be written: check the permissions, or open the project "
               "read-only.";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "The project file is damaged: restore it from a backup ('sep project check' shows what is wrong).";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "Another program is writing to the project: try again when it has finished.";
    case SQLITE_IOERR:
        return "The disk reported an error: check that it is still there, has free space and works.";
    case SQLITE_CANTOPEN:
        return "The file or its folder cannot be opened: check the path and the permissions.";
    case SQLITE_NOMEM:
        return "The computer ran out of memory.";
    case SQLITE_CONSTRAINT:
        return "The change contradicts what the project holds; nothing was changed (please report this as a bug).";
    default:
        return {};
    }
}

// ---------------------------------------------------------------------------------------------------
// Database

Database::Database(const std::string &path, int flags, const std::string &label, const std::string &vfs)
    : m_label(label.empty() ? path : label)
{
    sqlite3 *db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs.empty() ? nullptr : vfs.c_str());
    if (rc != SQLITE_OK) {
        const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        const std::string advice = adviceFor(rc);
        throw Error(m_label + ": cannot be opened (" + message + ")" + (advice.empty() ? "" : ". " + advice));
    }
    m_db = db;
    sqlite3_extended_result_codes(m_db, 1);
}

Database::~Database() { close(); }

Database::Database(Database &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_label(std::move(other.m_label))
{
}

Database &Database::operator=(Database &&other) noexcept
{
    if (this != &other) {
        close();
        m_db = std::exchange(other.m_db, nullptr);
        m_label = std::move(other.m_label);
    }
    return *this;
}

void Database::close()
{
    if (m_db) {
        // close_v2 finalises lazily should a statement still be alive; nothing here throws.
        sqlite3_close_v2(m_db);
        m_db = nullptr;
    }
}

void Database::fail(int code, const std::string &what) const
{
    const std::string message = m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(code);
    const std::string advice = adviceFor(code);
    throw Error(m_label + ": " + what + " failed (" + message + ")" + (advice.empty() ? "" : ". " + advice));
}

void Database::exec(const std::string &sql)
{
    char *error = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        sqlite3_free(error);
        fail(rc, "a database update");
    }
}

int64_t Database::queryInt(const std::string &sql, int64_t fallback)
{
    Statement st(*this, sql);
    return st.step() && !st.isNull(0) ? st.integer(0) : fallback;
}

std::string Database::queryText(const std::string &sql, const std::string &fallback)
{
    Statement st(*this, sql);
    return st.step() && !st.isNull(0) ? st.text(0) : fallback;
}

int64_t Database::lastInsertId() const { return sqlite3_last_insert_rowid(m_db); }
int64_t Database::changes() const { return sqlite3_changes64(m_db); }

// ---------------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Database &db, const std::string &sql) : m_db(&db)
{
    const int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &m_stmt, nullptr);
    if (rc != SQLITE_OK)
        db.fail(rc, "reading the project");
}

Statement::~Statement() { sqlite3_finalize(m_stmt); }

Statement::Statement(Statement &&other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_stmt(std::exchange(other.m_stmt, nullptr))
{
}

Statement &Statement::operator=(Statement &&other) noexcept
{
    if (this != &other) {
        sqlite3_finalize(m_stmt);
        m_db = std::exchange(other.m_db, nullptr);
        m_stmt = std::exchange(other.m_stmt, nullptr);
    }
    return *this;
}

namespace {
void checkBind(Database *db, int rc)
{
    if (rc != SQLITE_OK)
        db->fail(rc, "preparing a database update");
}
} // namespace

Statement &Statement::bind(int index, int64_t value)
{
    checkBind(m_db, sqlite3_bind_int64(m_stmt, index, value));
    return *this;
}

Statement &Statement::bind(int index, double value)
{
    checkBind(m_db, sqlite3_bind_double(m_stmt, index, value));
    return *this;
}

Statement &Statement::bind(int index, const std::string &value)
{
    checkBind(m_db, sqlite3_bind_text64(m_stmt, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
}

Statement &Statement::bindBlob(int index, const std::vector<uint8_t> &bytes)
{
    // A zero-length blob, not NULL, for an empty vector: the column says "nothing selected".
    static const uint8_t empty = 0;
    checkBind(m_db, sqlite3_bind_blob64(m_stmt, index, bytes.empty() ? &empty : bytes.data(), bytes.size(),
                                        SQLITE_TRANSIENT));
    return *this;
}

Statement &Statement::bindNull(int index)
{
    checkBind(m_db, sqlite3_bind_null(m_stmt, index));
    return *this;
}

bool Statement::step()
{
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    // Reset so the statement can be finalised or reused; the error is the one step() reported.
    sqlite3_reset(m_stmt);
    m_db->fail(rc, sqlite3_stmt_readonly(m_stmt) ? "reading the project" : "writing to the project");
}

void Statement::run()
{
    while (step()) {
    }
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::isNull(int column) const { return sqlite3_column_type(m_stmt, column) == SQLITE_NULL; }
int64_t Statement::integer(int column) const { return sqlite3_column_int64(m_stmt, column); }
double Statement::real(int column) const { return sqlite3_column_double(m_stmt, column); }

std::string Statement::text(int column) const
{
    const auto *p = sqlite3_column_text(m_stmt, column);
    const int n = sqlite3_column_bytes(m_stmt, column);
    return p ? std::string(reinterpret_cast<const char *>(p), static_cast<size_t>(n)) : std::string();
}

std::vector<uint8_t> Statement::blob(int column) const
{
    const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(m_stmt, column));
    const int n = sqlite3_column_bytes(m_stmt, column);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

// ---------------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database &db) : m_db(db) { m_db.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction()
{
    if (!m_done) {
        // Never throws: a failed rollback leaves the transaction to SQLite's own recovery.
        sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit()
{
    const int rc = sqlite3_exec(m_db.handle(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        // COMMIT can fail (disk full while writing the log) and leave the transaction open: the
        // destructor rolls it back.
        m_db.fail(rc, "saving to the project");
    }
    m_done = true;
}

} // namespace sep::projects
