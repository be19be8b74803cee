/* Every SQL statement the store runs, in one table indexed by enum stmt_id. Values are always
 * bound (?N), never formatted in. Statements are prepared once and cached (store_stmt()). */

#include "store/store_impl.h"

#define NOW "CAST(strftime('%s', 'now') AS INTEGER)"
#define NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

#define DOMAIN_COLS                                                                                \
    "d.id, d.name, d.managed_by, d.configured_local, d.created_at, d.updated_at,"                  \
    " (SELECT count(*) FROM users u WHERE u.uri_domain = d.name)"
/* Filters are LIKE patterns built by store_like_pattern(): ASCII case-insensitive, and much
 * cheaper than lower() on every row of a million-user table. */
#define DOMAIN_FILTER "(?1 IS NULL OR d.name LIKE ?1 ESCAPE '\\')"

/* The part of an IM address after its last '@', lower-cased as LIKE folds case (ASCII): the
 * key of im_domain_users. (rtrim() strips every character but '@' from the right: what is left
 * ends at the last '@'.) */
#define IM_DOMAIN(a) "lower(substr(" a ", length(rtrim(" a ", replace(" a ", '@', ''))) + 1))"

#define USER_COLS "u.id, u.userid, u.directory_uri, u.uri_domain, u.im_address, n.name"
#define USER_FROM "users u LEFT JOIN nodes n ON n.id = u.node_id"
#define USER_FILTER                                                                                \
    "(?1 IS NULL OR u.userid LIKE ?1 ESCAPE '\\' OR u.directory_uri LIKE ?1 ESCAPE '\\')"

#define JOB_COLS                                                                                   \
    "id, kind, state, old_value, new_value, cursor, done, total, error, attempts, created_at,"     \
    " updated_at"
#define JOB_ACTIVE "state IN ('running', 'failed', 'rolling-back')"

#define NODE_COLS "n.id, n.name, n.role, n.release, g.name"
#define NODE_FROM "nodes n LEFT JOIN redundancy_groups g ON g.id = n.group_id"
#define GROUP_COLS                                                                                 \
    "g.id, g.name, g.ha_enabled, g.ha_changed_at,"                                                 \
    " (SELECT count(*) FROM nodes n WHERE n.group_id = g.id), coalesce(g.ha_changed_ms, 0)"
#define SERVICE_COLS "n.name, s.service, s.state, s.updated_at"
#define SERVICE_FROM "node_services s JOIN nodes n ON n.id = s.node_id"
#define PROC_COLS "id, state, step, job_id, ha_groups, actor, created_at, updated_at"

static const char *const sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT store_atomic",
    [STMT_RELEASE] = "RELEASE store_atomic",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO store_atomic",
    [STMT_USER_VERSION] = "PRAGMA user_version",

    [STMT_SETTINGS_GET] = "SELECT default_domain, im_address_scheme, tls_federation,"
                          " wildcard_sans, cucm_domain_sip_proxy, audit_time, domains_applied,"
                          " apply_error, cert_domain_set FROM settings WHERE id = 1",
    [STMT_SETTINGS_SET] = "UPDATE settings SET default_domain = ?1, im_address_scheme = ?2,"
                          " tls_federation = ?3, wildcard_sans = ?4, cucm_domain_sip_proxy = ?5,"
                          " audit_time = ?6, domains_applied = ?7, apply_error = ?8,"
                          " cert_domain_set = ?9 WHERE id = 1",
    [STMT_SETTINGS_SET_APPLIED] =
        "UPDATE settings SET domains_applied = ?1, apply_error = ?2 WHERE id = 1",

    [STMT_DOMAIN_INSERT] = "INSERT INTO domains (name, managed_by, configured_local, created_at,"
                           " updated_at) VALUES (lower(?1), ?2, ?3, " NOW ", " NOW ")",
    [STMT_DOMAIN_GET] = "SELECT " DOMAIN_COLS " FROM domains d WHERE d.name = ?1",
    [STMT_DOMAIN_RENAME] =
        "UPDATE domains SET name = lower(?2), updated_at = " NOW " WHERE name = ?1",
    [STMT_DOMAIN_DELETE] = "DELETE FROM domains WHERE name = ?1",
    [STMT_DOMAIN_SET_MANAGED_BY] =
        "UPDATE domains SET managed_by = ?2, updated_at = " NOW " WHERE name = ?1",
    [STMT_DOMAIN_SET_LOCAL] =
        "UPDATE domains SET configured_local = ?2, updated_at = " NOW " WHERE name = ?1",
    /* A keyset page: the domains after the name ?3 ('' for the first: no name is empty), so a
     * page costs the same wherever it starts (names are unique, lower-case: the key is whole). */
    [STMT_DOMAIN_LIST] = "SELECT " DOMAIN_COLS " FROM domains d WHERE " DOMAIN_FILTER
                         " AND d.name > ?3 ORDER BY d.name LIMIT ?2",
    [STMT_DOMAIN_COUNT] = "SELECT count(*) FROM domains d WHERE " DOMAIN_FILTER,
    /* Walks the users_uri_domain index in order: no table rows are read and no sort. */
    [STMT_DOMAIN_USER_COUNTS] = "SELECT uri_domain, count(*) FROM users WHERE uri_domain > ''"
                                " GROUP BY uri_domain ORDER BY uri_domain",

    [STMT_USER_FIND] = "SELECT id, userid, directory_uri, node_id FROM users WHERE userid = ?1",
    [STMT_USER_INSERT] =
        "INSERT INTO users (userid, directory_uri, uri_domain, node_id, im_address)"
        " SELECT ?1, ?2, ?3, ?4, CASE WHEN s.im_address_scheme = 'directory-uri' AND ?2 <> ''"
        " THEN ?2 ELSE ?1 || '@' || s.default_domain END FROM settings s WHERE s.id = 1",
    [STMT_USER_UPDATE] =
        "UPDATE users SET userid = ?2, directory_uri = ?3, uri_domain = ?4, node_id = ?5,"
        " im_address = CASE WHEN (SELECT im_address_scheme FROM settings WHERE id = 1)"
        " = 'directory-uri' AND ?3 <> '' THEN ?3 ELSE im_address END WHERE id = ?1",
    [STMT_USER_GET] = "SELECT " USER_COLS " FROM " USER_FROM " WHERE u.userid = ?1",
    /* Uses users_im_address: the comparison's collation matches the index's. */
    [STMT_USER_GET_BY_IM] = "SELECT " USER_COLS " FROM " USER_FROM
                            " WHERE u.im_address = ?1 COLLATE NOCASE ORDER BY u.id LIMIT 1",
    /* The same lookup for presence: only the node, the fewest columns to copy. */
    [STMT_USER_NODE_BY_IM] = "SELECT n.name FROM users u LEFT JOIN nodes n ON n.id = u.node_id"
                             " WHERE u.im_address = ?1 COLLATE NOCASE ORDER BY u.id LIMIT 1",
    [STMT_USER_DELETE] = "DELETE FROM users WHERE userid = ?1",
    [STMT_USER_SET_IM] = "UPDATE users SET im_address = ?2 WHERE userid = ?1",
    [STMT_USER_SET_NODE] = "UPDATE users SET node_id = ?2 WHERE userid = ?1",
    /* users/list's order is the userid column's (NOCASE, unique: the key is whole), read by
     * keyset through the UNIQUE index on userid: the users after ?3 ('' for the first: no userid
     * is empty), so a page deep in a million users costs what the first does. */
    [STMT_USER_LIST] = "SELECT " USER_COLS " FROM " USER_FROM " WHERE " USER_FILTER
                       " AND u.userid > ?3 ORDER BY u.userid LIMIT ?2",
    /* The userid ?3 places after the userid ?2 ('' for the first), before ?2, or before the end
     * (KEY_LAST, ?2 the places): how a page asked for by its number finds where it starts from
     * the nearest place known (store_user_pages.c). Without a filter only the index is read. */
    [STMT_USER_KEY_AFTER] = "SELECT u.userid FROM users u WHERE " USER_FILTER
                            " AND u.userid > ?2 ORDER BY u.userid LIMIT 1 OFFSET ?3",
    [STMT_USER_KEY_BEFORE] = "SELECT u.userid FROM users u WHERE " USER_FILTER
                             " AND u.userid < ?2 ORDER BY u.userid DESC LIMIT 1 OFFSET ?3",
    [STMT_USER_KEY_LAST] = "SELECT u.userid FROM users u WHERE " USER_FILTER
                           " ORDER BY u.userid DESC LIMIT 1 OFFSET ?2",
    /* Without a WHERE sqlite counts the smallest index's entries instead of testing each row. */
    [STMT_USER_COUNT_ALL] = "SELECT count(*) FROM users",
    /* Moves when another connection commits (this one's writes: sqlite3_total_changes). */
    [STMT_DATA_VERSION] = "PRAGMA data_version",
    [STMT_USER_LIST_AFTER] =
        "SELECT " USER_COLS " FROM " USER_FROM " WHERE u.id > ?1 ORDER BY u.id LIMIT ?2",
    [STMT_USER_COUNT] = "SELECT count(*) FROM users u WHERE " USER_FILTER,
    [STMT_USER_COUNT_PER_NODE] =
        "SELECT n.name, (SELECT count(*) FROM users u WHERE u.node_id = n.id) FROM nodes n"
        " ORDER BY n.name",
    [STMT_USER_BATCH_END] = "SELECT max(id), count(*) FROM"
                            " (SELECT id FROM users WHERE id > ?1 ORDER BY id LIMIT ?2)",
    [STMT_USER_BATCH_REWRITE] =
        "UPDATE users SET im_address = userid || '@' || ?3 WHERE id > ?1 AND id <= ?2",
    [STMT_USER_BATCH_DERIVE] =
        "UPDATE users SET im_address = CASE WHEN ?3 = 'directory-uri' AND directory_uri <> ''"
        " THEN directory_uri ELSE userid || '@' || ?4 END WHERE id > ?1 AND id <= ?2",
    [STMT_NODE_ID] = "SELECT id FROM nodes WHERE name = ?1",
    /* users/import's one statement a line: insert, or update only what differs (the WHERE makes
     * an identical line change no row, which is how "unchanged" is told). ?4 is the node id
     * (NULL: unassigned), ?5 = 1 keeps the current node, ?6 a new user's IM address. An update
     * leaves the IM address to store_user_import_row(), which counts the change. */
    [STMT_USER_IMPORT_UPSERT] =
        "INSERT INTO users (userid, directory_uri, uri_domain, node_id, im_address)"
        " VALUES (?1, ?2, ?3, ?4, ?6)"
        " ON CONFLICT (userid) DO UPDATE SET userid = excluded.userid,"
        " directory_uri = excluded.directory_uri, uri_domain = excluded.uri_domain,"
        " node_id = CASE WHEN ?5 THEN users.node_id ELSE excluded.node_id END"
        " WHERE users.userid <> excluded.userid COLLATE BINARY"
        " OR users.directory_uri <> excluded.directory_uri"
        " OR (NOT ?5 AND users.node_id IS NOT excluded.node_id)",
    /* The import job's lines worth reading (updated, removed, rejected), one a row. */
    [STMT_IMPORT_VERDICT_ADD] = "INSERT OR REPLACE INTO user_import_verdicts"
                                " (import_id, line, userid, verdict, reason)"
                                " VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_USER_MAX_ID] = "SELECT coalesce(max(id), 0) FROM users",
    /* One range read by rowid, grouped in memory: cheap beside the rows just written. The
     * WHERE before ON CONFLICT is what lets sqlite parse the upsert of a SELECT. */
    [STMT_IM_COUNT_SHIFT] = "INSERT INTO im_domain_users (domain, users)"
                            " SELECT " IM_DOMAIN("im_address") ", ?3 * count(*) FROM users"
                            " WHERE id > ?1 AND id <= ?2 AND instr(im_address, '@') > 0"
                            " GROUP BY 1 ON CONFLICT (domain) DO UPDATE"
                            " SET users = users + excluded.users",
    [STMT_IM_COUNT_ADD] = "INSERT INTO im_domain_users (domain, users)"
                          " SELECT " IM_DOMAIN("?1") ", ?2 WHERE instr(?1, '@') > 0"
                          " ON CONFLICT (domain) DO UPDATE SET users = users + excluded.users",
    [STMT_USER_SET_IM_BY_ID] = "UPDATE users SET im_address = ?2 WHERE id = ?1",
    [STMT_USER_ID_IM] = "SELECT id, im_address FROM users WHERE userid = ?1",
    [STMT_PEER_VERSION_BUMP] = "UPDATE peer_state SET version = version + 1",

    [STMT_JOB_INSERT] = "INSERT INTO jobs (kind, state, old_value, new_value, total, created_at,"
                        " updated_at) VALUES (?1, 'running', ?2, ?3, ?4, " NOW ", " NOW ")",
    [STMT_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [STMT_JOB_GET_ACTIVE] = "SELECT " JOB_COLS " FROM jobs WHERE " JOB_ACTIVE,
    [STMT_JOB_UPDATE] = "UPDATE jobs SET state = ?2, cursor = ?3, done = ?4, total = ?5,"
                        " error = ?6, attempts = ?7, updated_at = " NOW " WHERE id = ?1",
    [STMT_JOB_PROGRESS] =
        "UPDATE jobs SET cursor = ?2, done = ?3, updated_at = " NOW " WHERE id = ?1",
    [STMT_JOB_SET_STATE] =
        "UPDATE jobs SET state = ?2, error = ?3, updated_at = " NOW " WHERE id = ?1",
    [STMT_JOB_LIST] = "SELECT " JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1",

    [STMT_AUDIT_APPEND] = "INSERT INTO audit_log (time, actor, node, outcome, details)"
                          " VALUES (CASE WHEN ?1 > 0 THEN ?1 ELSE " NOW " END, ?2, ?3, ?4, ?5)",
    [STMT_AUDIT_LIST] = "SELECT id, time, actor, node, outcome, details FROM audit_log"
                        " WHERE time >= ?1 AND (?2 IS NULL OR actor = ?2)"
                        " ORDER BY time DESC, id DESC LIMIT ?3",
    [STMT_AUDIT_PRUNE] = "DELETE FROM audit_log WHERE time < ?1",

    [STMT_NODE_INSERT] =
        "INSERT INTO nodes (name, role, release, group_id) VALUES (?1, ?2, ?3, ?4)",
    [STMT_NODE_GET] = "SELECT " NODE_COLS " FROM " NODE_FROM " WHERE n.name = ?1",
    [STMT_NODE_UPDATE] = "UPDATE nodes SET role = ?2, release = ?3, group_id = ?4 WHERE name = ?1",
    [STMT_NODE_DELETE] = "DELETE FROM nodes WHERE name = ?1",
    [STMT_NODE_LIST] =
        "SELECT " NODE_COLS " FROM " NODE_FROM " ORDER BY n.role <> 'publisher', n.name",
    [STMT_GROUP_INSERT] = "INSERT INTO redundancy_groups (name, ha_enabled) VALUES (?1, ?2)",
    [STMT_GROUP_GET] = "SELECT " GROUP_COLS " FROM redundancy_groups g WHERE g.name = ?1",
    [STMT_GROUP_SET_HA] = "UPDATE redundancy_groups SET ha_enabled = ?2,"
                          " ha_changed_at = CASE WHEN ?3 > 0 THEN ?3 / 1000 ELSE " NOW " END,"
                          " ha_changed_ms = CASE WHEN ?3 > 0 THEN ?3 ELSE " NOW_MS " END"
                          " WHERE name = ?1",
    [STMT_GROUP_DELETE] = "DELETE FROM redundancy_groups WHERE name = ?1",
    [STMT_GROUP_LIST] = "SELECT " GROUP_COLS " FROM redundancy_groups g ORDER BY g.name",
    [STMT_RECORDED_SET] =
        "INSERT INTO node_active_users (node_id, active_users, recorded_at)"
        " VALUES (?1, ?2, CASE WHEN ?3 > 0 THEN ?3 ELSE " NOW " END)"
        " ON CONFLICT (node_id) DO UPDATE SET active_users = excluded.active_users,"
        " recorded_at = excluded.recorded_at",
    [STMT_RECORDED_LIST] = "SELECT n.name, r.active_users, r.recorded_at FROM node_active_users r"
                           " JOIN nodes n ON n.id = r.node_id WHERE (?1 IS NULL OR n.name = ?1)"
                           " ORDER BY n.name",
    [STMT_RECORDED_CLEAR] = "DELETE FROM node_active_users WHERE ?1 IS NULL"
                            " OR node_id IN (SELECT id FROM nodes WHERE name = ?1)",
    [STMT_SERVICE_SET] = "INSERT INTO node_services (node_id, service, state, updated_at)"
                         " VALUES (?1, ?2, ?3, " NOW ") ON CONFLICT (node_id, service)"
                         " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    [STMT_SERVICE_GET] =
        "SELECT " SERVICE_COLS " FROM " SERVICE_FROM " WHERE n.name = ?1 AND s.service = ?2",
    [STMT_SERVICE_DELETE] = "DELETE FROM node_services WHERE service = ?2"
                            " AND node_id IN (SELECT id FROM nodes WHERE name = ?1)",
    [STMT_SERVICE_LIST] = "SELECT " SERVICE_COLS " FROM " SERVICE_FROM
                          " WHERE (?1 IS NULL OR n.name = ?1) ORDER BY n.name, s.service",

    [STMT_PROC_INSERT] = "INSERT INTO procedures (actor, created_at, updated_at)"
                         " VALUES (?1, " NOW ", " NOW ")",
    [STMT_PROC_GET] = "SELECT " PROC_COLS " FROM procedures WHERE id = ?1",
    [STMT_PROC_GET_ACTIVE] = "SELECT " PROC_COLS " FROM procedures WHERE state = 'active'",
    [STMT_PROC_SET_STEP] = "UPDATE procedures SET step = ?2, job_id = ?3, ha_groups = ?4,"
                           " updated_at = " NOW " WHERE id = ?1 AND state = 'active'",
    [STMT_PROC_END] =
        "UPDATE procedures SET state = ?2, updated_at = " NOW " WHERE id = ?1 AND state = 'active'",
};

const char *store_sql_text(enum stmt_id id)
{
    return sql[id];
}
