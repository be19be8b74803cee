/* The store's schema and its migrations: migrations[v] takes PRAGMA user_version v to v + 1
 * and runs in one transaction together with the version bump, so a crash leaves v or v + 1. */

#include "store/store_impl.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>

/* "IMDD" in PRAGMA application_id marks a file as ours (see sqlite's magic.txt). */
#define STORE_APPLICATION_ID 0x494d4444

/*
 * Version 1. Names are stored lower-case and compared with NOCASE so uniqueness is
 * case-insensitive at the index itself. Times are unix seconds. Domains have a numeric id so
 * that a later peer_domains (peer, domain_id, users) table can point at them and survive a
 * rename. users.id is AUTOINCREMENT: the default-domain job walks users by rowid with a cursor,
 * and a reused rowid below the cursor would be skipped.
 */
static const char schema_v1[] =
    "PRAGMA application_id = 1229800516;"

    "CREATE TABLE settings ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " default_domain TEXT NOT NULL DEFAULT 'DOMAIN.NOT.SET'"
    "  CHECK (length(default_domain) BETWEEN 1 AND 255),"
    " im_address_scheme TEXT NOT NULL DEFAULT 'userid@default'"
    "  CHECK (im_address_scheme IN ('userid@default', 'directory-uri')),"
    " tls_federation INTEGER NOT NULL DEFAULT 0 CHECK (tls_federation IN (0, 1)),"
    " wildcard_sans INTEGER NOT NULL DEFAULT 0 CHECK (wildcard_sans IN (0, 1)),"
    " cucm_domain_sip_proxy TEXT NOT NULL DEFAULT '' CHECK (length(cucm_domain_sip_proxy) <= 255),"
    " audit_time TEXT NOT NULL DEFAULT '02:00'"
    "  CHECK (audit_time GLOB '[0-2][0-9]:[0-5][0-9]' AND audit_time < '24:00'),"
    " domains_applied INTEGER NOT NULL DEFAULT 0 CHECK (domains_applied IN (0, 1)),"
    " apply_error TEXT,"
    " cert_domain_set TEXT);"
    "INSERT INTO settings (id) VALUES (1);"

    "CREATE TABLE domains ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE"
    "  CHECK (name = lower(name) COLLATE BINARY AND length(name) BETWEEN 1 AND 255),"
    " managed_by TEXT NOT NULL DEFAULT 'admin' CHECK (managed_by IN ('admin', 'system')),"
    " configured_local INTEGER NOT NULL DEFAULT 1 CHECK (configured_local IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"

    /* The router files list the local domains and the default domain: any change to that set
     * makes them stale in the same transaction, so a crash before they are rewritten is seen
     * at the next start. */
    "CREATE TRIGGER domains_stale_insert AFTER INSERT ON domains WHEN NEW.configured_local"
    " BEGIN UPDATE settings SET domains_applied = 0; END;"
    "CREATE TRIGGER domains_stale_delete AFTER DELETE ON domains WHEN OLD.configured_local"
    " BEGIN UPDATE settings SET domains_applied = 0; END;"
    "CREATE TRIGGER domains_stale_update AFTER UPDATE OF name, configured_local ON domains"
    " WHEN (OLD.configured_local OR NEW.configured_local)"
    "  AND (OLD.name IS NOT NEW.name OR OLD.configured_local IS NOT NEW.configured_local)"
    " BEGIN UPDATE settings SET domains_applied = 0; END;"
    "CREATE TRIGGER default_domain_stale AFTER UPDATE OF default_domain ON settings"
    " WHEN OLD.default_domain IS NOT NEW.default_domain"
    " BEGIN UPDATE settings SET domains_applied = 0; END;"

    "CREATE TABLE redundancy_groups ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),"
    " ha_enabled INTEGER NOT NULL DEFAULT 0 CHECK (ha_enabled IN (0, 1)),"
    " ha_changed_at INTEGER);"

    "CREATE TABLE nodes ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),"
    " role TEXT NOT NULL CHECK (role IN ('publisher', 'subscriber')),"
    " release TEXT NOT NULL DEFAULT '',"
    " group_id INTEGER REFERENCES redundancy_groups (id) ON DELETE RESTRICT);"
    "CREATE INDEX nodes_group ON nodes (group_id);"
    "CREATE UNIQUE INDEX nodes_one_publisher ON nodes (role) WHERE role = 'publisher';"
    "CREATE TRIGGER nodes_group_full_insert BEFORE INSERT ON nodes"
    " WHEN NEW.group_id IS NOT NULL"
    "  AND (SELECT count(*) FROM nodes WHERE group_id = NEW.group_id) >= 2"
    " BEGIN SELECT RAISE(ABORT, 'a presence redundancy group holds at most two nodes'); END;"
    "CREATE TRIGGER nodes_group_full_update BEFORE UPDATE OF group_id ON nodes"
    " WHEN NEW.group_id IS NOT NULL AND NEW.group_id IS NOT OLD.group_id"
    "  AND (SELECT count(*) FROM nodes WHERE group_id = NEW.group_id) >= 2"
    " BEGIN SELECT RAISE(ABORT, 'a presence redundancy group holds at most two nodes'); END;"

    "CREATE TABLE node_active_users ("
    " node_id INTEGER PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,"
    " active_users INTEGER NOT NULL CHECK (active_users >= 0),"
    " recorded_at INTEGER NOT NULL);"

    "CREATE TABLE node_services ("
    " node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
    " service TEXT NOT NULL CHECK (length(service) BETWEEN 1 AND 64),"
    " state TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (node_id, service)) WITHOUT ROWID;"

    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " userid TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(userid) >= 1),"
    " directory_uri TEXT NOT NULL DEFAULT '',"
    " uri_domain TEXT NOT NULL DEFAULT '' CHECK (uri_domain = lower(uri_domain)),"
    " im_address TEXT NOT NULL DEFAULT '',"
    " node_id INTEGER REFERENCES nodes (id) ON DELETE SET NULL);"
    "CREATE INDEX users_uri_domain ON users (uri_domain);"
    "CREATE INDEX users_node ON users (node_id);"

    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL,"
    " state TEXT NOT NULL"
    "  CHECK (state IN ('running', 'failed', 'completed', 'canceled', 'rolling-back')),"
    " old_value TEXT,"
    " new_value TEXT,"
    " cursor INTEGER NOT NULL DEFAULT 0,"
    " done INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),"
    " total INTEGER NOT NULL DEFAULT 0 CHECK (total >= 0),"
    " error TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 0),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    /* At most one unfinished job: every active row has the same index key. */
    "CREATE UNIQUE INDEX jobs_one_active ON jobs ((1))"
    " WHERE state IN ('running', 'failed', 'rolling-back');"
    "CREATE TRIGGER jobs_finished BEFORE UPDATE OF state ON jobs"
    " WHEN OLD.state IN ('completed', 'canceled') AND NEW.state IS NOT OLD.state"
    " BEGIN SELECT RAISE(ABORT, 'a finished job cannot change state'); END;"

    "CREATE TABLE audit_log ("
    " id INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " actor TEXT NOT NULL COLLATE NOCASE,"
    " node TEXT NOT NULL,"
    " outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'error', 'canceled')),"
    " details TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_log_time ON audit_log (time);"
    "CREATE INDEX audit_log_actor ON audit_log (actor, time);";

/*
 * Version 2. Presence sessions look a user up by exact IM address (any case) for every new
 * session; under the directory-URI scheme the address need not start with the userid, and
 * without this index each lookup scanned the whole users table.
 */
static const char schema_v2[] =
    "CREATE INDEX users_im_address ON users (im_address COLLATE NOCASE);";

/*
 * Version 3: the guided domain-change procedure (component/engine/procedure.c). One row per run; at
 * most one is active, so a restarted daemon finds it and offers to resume or cancel. `step` is
 * the first step not yet done (8: all done); job_id is the default-domain job step 3 started;
 * ha_groups lists (comma-separated) the groups whose HA step 1 turned off, for step 7.
 */
static const char schema_v3[] =
    "CREATE TABLE procedures ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'done', 'canceled')),"
    " step INTEGER NOT NULL DEFAULT 1 CHECK (step BETWEEN 1 AND 8),"
    " job_id INTEGER,"
    " ha_groups TEXT NOT NULL DEFAULT '',"
    " actor TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX procedures_one_active ON procedures ((1)) WHERE state = 'active';"
    "CREATE TRIGGER procedures_finished BEFORE UPDATE ON procedures"
    " WHEN OLD.state <> 'active'"
    " BEGIN SELECT RAISE(ABORT, 'a finished procedure cannot change'); END;";

/*
 * Version 4: intercluster peers (component/engine/peers.c). peer_state holds this cluster's data
 * version marker (`epoch`-`version`), bumped by triggers whenever what a peer may ask for
 * changes (domains, users' directory URIs, default domain, address scheme), so an unchanged
 * cluster answers a peer cheaply; peering_seen is set once any peer answered, from then on
 * peer-only domains follow peer data. peers: one row per peer component JID (from the config
 * file or the peers command) with what its last answer said; last_error set means the last
 * refresh failed (stale when last_sync is set). peer_domains: the domains one peer configures
 * or has users in, as it last said, with the spelling it sent.
 */
static const char schema_v4[] =
    "CREATE TABLE peer_state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " epoch TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " peering_seen INTEGER NOT NULL DEFAULT 0 CHECK (peering_seen IN (0, 1)));"
    "INSERT INTO peer_state (id, epoch) VALUES (1, lower(hex(randomblob(4))));"

    "CREATE TABLE peers ("
    " id INTEGER PRIMARY KEY,"
    " jid TEXT NOT NULL UNIQUE COLLATE NOCASE"
    "  CHECK (jid = lower(jid) COLLATE BINARY AND length(jid) BETWEEN 1 AND 1023),"
    " from_config INTEGER NOT NULL DEFAULT 0 CHECK (from_config IN (0, 1)),"
    " added_at INTEGER NOT NULL,"
    " last_attempt INTEGER,"
    " last_sync INTEGER,"
    " last_error TEXT,"
    " version TEXT,"
    " default_domain TEXT,"
    " im_address_scheme TEXT,"
    " uri_hashes INTEGER NOT NULL DEFAULT 0 CHECK (uri_hashes >= 0),"
    " uris_partial INTEGER NOT NULL DEFAULT 0 CHECK (uris_partial IN (0, 1)),"
    " dup_uris INTEGER NOT NULL DEFAULT 0 CHECK (dup_uris >= 0),"
    " dup_example TEXT);"

    "CREATE TABLE peer_domains ("
    " peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,"
    " domain TEXT NOT NULL"
    "  CHECK (domain = lower(domain) COLLATE BINARY AND length(domain) BETWEEN 1 AND 255),"
    " sent_name TEXT NOT NULL CHECK (length(sent_name) BETWEEN 1 AND 255),"
    " configured INTEGER NOT NULL CHECK (configured IN (0, 1)),"
    " users INTEGER NOT NULL CHECK (users >= 0),"
    " PRIMARY KEY (peer_id, domain)) WITHOUT ROWID;"
    "CREATE INDEX peer_domains_domain ON peer_domains (domain);"

    "CREATE TRIGGER peer_version_domain_insert AFTER INSERT ON domains"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_domain_delete AFTER DELETE ON domains"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_domain_update AFTER UPDATE OF name, configured_local ON domains"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_user_insert AFTER INSERT ON users WHEN NEW.directory_uri > ''"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_user_delete AFTER DELETE ON users WHEN OLD.directory_uri > ''"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_user_update AFTER UPDATE OF directory_uri ON users"
    " WHEN OLD.directory_uri IS NOT NEW.directory_uri"
    " BEGIN UPDATE peer_state SET version = version + 1; END;"
    "CREATE TRIGGER peer_version_settings AFTER UPDATE OF default_domain, im_address_scheme"
    " ON settings WHEN OLD.default_domain IS NOT NEW.default_domain"
    "  OR OLD.im_address_scheme IS NOT NEW.im_address_scheme"
    " BEGIN UPDATE peer_state SET version = version + 1; END;";

/*
 * The directory sync (component/engine/dir_sync.c). users.source says where a user came from: 'import'
 * (users/import, imdomainctl) or 'directory' (the LDAP sync; users/import leaves those alone
 * unless told to). directory_runs: one row per directory-sync job with its mode, phase, counts
 * and the latest modifyTimestamp its entries carried (the server's clock: the next incremental
 * run reads what changed after it).
 * directory_entries: what the current (or last) sync read, with a verdict per entry: a sync
 * reads the whole directory here before it changes any user, and resumes from here after a
 * restart.
 */
static const char schema_directory_sync[] =
    "ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'import'"
    " CHECK (source IN ('import', 'directory'));"
    "CREATE INDEX users_from_directory ON users (id) WHERE source = 'directory';"

    "CREATE TABLE directory_runs ("
    " job_id INTEGER PRIMARY KEY,"
    " mode TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),"
    " phase TEXT NOT NULL DEFAULT 'fetch'"
    "  CHECK (phase IN ('fetch', 'check', 'apply', 'remove', 'finish', 'done')),"
    " confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),"
    " since TEXT,"
    " started_at INTEGER NOT NULL,"
    " server TEXT,"
    " saw_mtime INTEGER NOT NULL DEFAULT 0 CHECK (saw_mtime IN (0, 1)),"
    " max_mtime TEXT,"
    " fetched INTEGER NOT NULL DEFAULT 0,"
    " existing INTEGER NOT NULL DEFAULT 0,"
    " cursor INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL DEFAULT 0,"
    " unchanged INTEGER NOT NULL DEFAULT 0,"
    " removed INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0,"
    " summary TEXT);"

    "CREATE TABLE directory_entries ("
    " id INTEGER PRIMARY KEY,"
    " dn TEXT NOT NULL,"
    " userid TEXT NOT NULL COLLATE NOCASE,"
    " uri TEXT NOT NULL,"
    " node TEXT,"
    " verdict TEXT"
    "  CHECK (verdict IN ('added', 'updated', 'unchanged', 'removed', 'rejected')),"
    " reason_en TEXT,"
    " reason_ko TEXT);"
    "CREATE INDEX directory_entries_userid ON directory_entries (userid);";

/*
 * The moment HA changed on a group, in milliseconds: the settle period after ha/disable is
 * counted from it exactly ([ha] settle_time), where whole seconds made every wait up to a second
 * longer than configured. NULL (rows written before): counted from the end of ha_changed_at's
 * second, as before.
 */
static const char schema_ha_changed_ms[] =
    "ALTER TABLE redundancy_groups ADD COLUMN ha_changed_ms INTEGER;";

/*
 * Users per IM address domain, kept by triggers (until version 9): domains/list shows the default domain with the
 * number of users whose IM address is in it, and counting them read the whole users table on the
 * event loop (~0.1 s at 100,000 users, ~0.3 s at 1,000,000). An index on the domain part would
 * not help: the default domain usually holds nearly every user, and counting them in an index
 * still visits each. The triggers cover every writer (store_user_upsert, the import's upsert, the
 * default-domain and address-scheme jobs, the directory sync, deletes) because they all change
 * users by SQL. The key is the part after the last '@', lower-cased as LIKE folds case (ASCII):
 * "ends in @domain" for any domain (which holds no '@'). Addresses without '@' are not counted.
 * (The rtrim() strips every character but '@' from the right: what is left ends at the last
 * '@'.) Rows that drop to 0 stay (one per domain ever seen).
 */
static const char schema_im_domain_users[] =
    "CREATE TABLE im_domain_users ("
    " domain TEXT PRIMARY KEY,"
    " users INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO im_domain_users (domain, users)"
    " SELECT lower(substr(im_address,"
    "  length(rtrim(im_address, replace(im_address, '@', ''))) + 1)), count(*)"
    " FROM users WHERE instr(im_address, '@') > 0 GROUP BY 1;"
    "CREATE TRIGGER im_domain_user_insert AFTER INSERT ON users"
    " WHEN instr(NEW.im_address, '@') > 0"
    " BEGIN INSERT INTO im_domain_users (domain, users) VALUES (lower(substr(NEW.im_address,"
    "  length(rtrim(NEW.im_address, replace(NEW.im_address, '@', ''))) + 1)), 1)"
    "  ON CONFLICT (domain) DO UPDATE SET users = users + 1; END;"
    "CREATE TRIGGER im_domain_user_delete AFTER DELETE ON users"
    " WHEN instr(OLD.im_address, '@') > 0"
    " BEGIN UPDATE im_domain_users SET users = users - 1"
    "  WHERE domain = lower(substr(OLD.im_address,"
    "  length(rtrim(OLD.im_address, replace(OLD.im_address, '@', ''))) + 1)); END;"
    "CREATE TRIGGER im_domain_user_update AFTER UPDATE OF im_address ON users"
    " WHEN NEW.im_address IS NOT OLD.im_address"
    " BEGIN UPDATE im_domain_users SET users = users - 1"
    "  WHERE instr(OLD.im_address, '@') > 0 AND domain = lower(substr(OLD.im_address,"
    "  length(rtrim(OLD.im_address, replace(OLD.im_address, '@', ''))) + 1));"
    " INSERT INTO im_domain_users (domain, users) SELECT lower(substr(NEW.im_address,"
    "  length(rtrim(NEW.im_address, replace(NEW.im_address, '@', ''))) + 1)), 1"
    "  WHERE instr(NEW.im_address, '@') > 0"
    "  ON CONFLICT (domain) DO UPDATE SET users = users + 1; END;";

/*
 * users/import as a job (a large import): the lines are kept here first, as the admin sends
 * them (one row per part, its text as sent), then applied in slices by the job runner, so a
 * restart goes on from the last slice. Verdicts: every line's in `codes` of the slice that
 * applied it (one character a line), the reason and userid of the lines worth reading (updated,
 * removed, rejected) in user_import_verdicts. An import still being uploaded has no job yet;
 * the rows of the last finished import stay until the next large import starts.
 */
static const char schema_user_import_job[] =
    "CREATE TABLE user_imports ("
    " id INTEGER PRIMARY KEY,"
    " job_id INTEGER UNIQUE,"
    " phase TEXT NOT NULL DEFAULT 'upload' CHECK (phase IN ('upload', 'apply', 'audit', 'done')),"
    " lines INTEGER NOT NULL DEFAULT 0,"
    " lang TEXT,"
    " actor TEXT NOT NULL DEFAULT '',"
    " edit_directory INTEGER NOT NULL DEFAULT 0 CHECK (edit_directory IN (0, 1)),"
    " audit INTEGER NOT NULL DEFAULT 1 CHECK (audit IN (0, 1)),"
    " canceled INTEGER NOT NULL DEFAULT 0 CHECK (canceled IN (0, 1)),"
    " cursor INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL DEFAULT 0,"
    " unchanged INTEGER NOT NULL DEFAULT 0,"
    " removed INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0,"
    " summary TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE user_import_parts ("
    " id INTEGER PRIMARY KEY,"
    " import_id INTEGER NOT NULL REFERENCES user_imports (id) ON DELETE CASCADE,"
    " first_line INTEGER NOT NULL,"
    " lines INTEGER NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE UNIQUE INDEX user_import_parts_line ON user_import_parts (import_id, first_line);"
    "CREATE TABLE user_import_slices ("
    " import_id INTEGER NOT NULL REFERENCES user_imports (id) ON DELETE CASCADE,"
    " first_line INTEGER NOT NULL,"
    " codes TEXT NOT NULL,"
    " PRIMARY KEY (import_id, first_line));"
    "CREATE TABLE user_import_verdicts ("
    " import_id INTEGER NOT NULL REFERENCES user_imports (id) ON DELETE CASCADE,"
    " line INTEGER NOT NULL,"
    " userid TEXT NOT NULL,"
    " verdict TEXT NOT NULL CHECK (verdict IN ('updated', 'removed', 'rejected')),"
    " reason TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (import_id, line));";

/*
 * Version 9: the triggers on users that kept im_domain_users and peer_state's version are gone;
 * the store's writers keep both (store_user_counts.c). A trigger on users, even one whose WHEN
 * never held, made sqlite keep a statement journal for every row written: a new user cost
 * about twice as much, and a million-user import spent 5-7 s of CPU on it (bench/README.md).
 * The counts are built again from the rows, in case anything wrote users outside the store.
 */
static const char schema_user_counts_by_writers[] =
    "DROP TRIGGER IF EXISTS im_domain_user_insert; DROP TRIGGER IF EXISTS im_domain_user_delete;"
    "DROP TRIGGER IF EXISTS im_domain_user_update;"
    "DROP TRIGGER IF EXISTS peer_version_user_insert;"
    "DROP TRIGGER IF EXISTS peer_version_user_delete;"
    "DROP TRIGGER IF EXISTS peer_version_user_update;"
    "DELETE FROM im_domain_users;"
    "INSERT INTO im_domain_users (domain, users)"
    " SELECT lower(substr(im_address,"
    "  length(rtrim(im_address, replace(im_address, '@', ''))) + 1)), count(*)"
    " FROM users WHERE instr(im_address, '@') > 0 GROUP BY 1;";

/*
 * Version 10: user_imports.id AUTOINCREMENT, so an import's id is never handed out again. A
 * users/import session keeps its import's id for its life (component/engine/import_job.c: the
 * parts it appends, the verdicts it answers with once its job ended), and a new upload deletes
 * every import before it, which left the table empty: every import got id 1, and a session that
 * outlived its import (a job that ended, an upload another instance discarded) read or appended
 * to the newer import of another session under the same id. AUTOINCREMENT keeps the largest id
 * ever used (sqlite_sequence), so a stale id now finds no row.
 *
 * sqlite cannot add AUTOINCREMENT to a table: it is rebuilt (a new table, the rows copied with
 * their ids, the old one dropped, the new one renamed), with foreign keys off (see
 * store_schema_migrate(): the drop would otherwise delete every part, slice and verdict by
 * ON DELETE CASCADE). The children's REFERENCES name the table, so they point at the new one
 * once renamed. Children whose import is missing (only a damaged store has them: cascades
 * delete them otherwise) are deleted, and the step checks the children's foreign keys before it
 * commits (fk_checks[]).
 */
static const char schema_user_import_ids[] =
    "CREATE TABLE user_imports_v10 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " job_id INTEGER UNIQUE,"
    " phase TEXT NOT NULL DEFAULT 'upload' CHECK (phase IN ('upload', 'apply', 'audit', 'done')),"
    " lines INTEGER NOT NULL DEFAULT 0,"
    " lang TEXT,"
    " actor TEXT NOT NULL DEFAULT '',"
    " edit_directory INTEGER NOT NULL DEFAULT 0 CHECK (edit_directory IN (0, 1)),"
    " audit INTEGER NOT NULL DEFAULT 1 CHECK (audit IN (0, 1)),"
    " canceled INTEGER NOT NULL DEFAULT 0 CHECK (canceled IN (0, 1)),"
    " cursor INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL DEFAULT 0,"
    " unchanged INTEGER NOT NULL DEFAULT 0,"
    " removed INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0,"
    " summary TEXT,"
    " created_at INTEGER NOT NULL);"
    "INSERT INTO user_imports_v10 (id, job_id, phase, lines, lang, actor, edit_directory, audit,"
    " canceled, cursor, added, updated, unchanged, removed, rejected, summary, created_at)"
    " SELECT id, job_id, phase, lines, lang, actor, edit_directory, audit, canceled, cursor,"
    " added, updated, unchanged, removed, rejected, summary, created_at FROM user_imports;"
    "DROP TABLE user_imports;"
    "ALTER TABLE user_imports_v10 RENAME TO user_imports;"
    "DELETE FROM user_import_parts WHERE import_id NOT IN (SELECT id FROM user_imports);"
    "DELETE FROM user_import_slices WHERE import_id NOT IN (SELECT id FROM user_imports);"
    "DELETE FROM user_import_verdicts WHERE import_id NOT IN (SELECT id FROM user_imports);";

static const char *const migrations[] = {schema_v1,
                                         schema_v2,
                                         schema_v3,
                                         schema_v4,
                                         schema_directory_sync,
                                         schema_ha_changed_ms,
                                         schema_im_domain_users,
                                         schema_user_import_job,
                                         schema_user_counts_by_writers,
                                         schema_user_import_ids};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* After migrations[v] (before its commit), for a step that rebuilt a table that others refer
 * to: a query counting the foreign key violations in those tables, which must be 0. */
static const char *const fk_checks[STORE_SCHEMA_VERSION] = {
    [9] = "SELECT (SELECT count(*) FROM pragma_foreign_key_check('user_import_parts'))"
          " + (SELECT count(*) FROM pragma_foreign_key_check('user_import_slices'))"
          " + (SELECT count(*) FROM pragma_foreign_key_check('user_import_verdicts'))",
};

static int exec(sqlite3 *db, const char *sql, const char *what, char **err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    *err = xasprintf("%s: %s", what, sqlite3_errmsg(db));
    return -1;
}

static int read_int(sqlite3 *db, const char *sql, int *out, char **err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = sqlite3_column_int(s, 0);
    if (rc != SQLITE_ROW)
        *err = xasprintf("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Refuses files that another program, or a newer imdomaind, wrote. Runs inside the write
 * transaction so that two daemons starting at once cannot both migrate. */
static int check_owner(sqlite3 *db, int version, char **err)
{
    int app = 0, tables = 0;

    if (version > STORE_SCHEMA_VERSION) {
        *err = xasprintf("database schema version %d is newer than this imdomaind supports (%d); "
                         "upgrade imdomaind",
                         version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (read_int(db, "PRAGMA application_id", &app, err) == -1 ||
        read_int(db, "SELECT count(*) FROM sqlite_master", &tables, err) == -1)
        return -1;
    if (app != STORE_APPLICATION_ID && (app != 0 || version != 0 || tables != 0)) {
        *err = xasprintf("the database file belongs to another program (application_id %d, "
                         "user_version %d); refusing to touch it",
                         app, version);
        return -1;
    }
    return 0;
}

static int check_foreign_keys(sqlite3 *db, const char *sql, const char *what, char **err)
{
    int violations = 0;

    if (sql == NULL)
        return 0;
    if (read_int(db, sql, &violations, err) == -1)
        return -1;
    if (violations == 0)
        return 0;
    *err = xasprintf("%s: %d foreign key violation(s) after the step", what, violations);
    return -1;
}

/* One step: v -> v + 1, or nothing when the database is already current. *version gets the
 * version found; returns 1 after a step, 0 when current, -1 on failure. */
static int migrate_step(sqlite3 *db, int *version, char **err)
{
    char what[64], bump[64];

    if (exec(db, "BEGIN IMMEDIATE", "starting schema migration", err) == -1)
        return -1;
    if (read_int(db, "PRAGMA user_version", version, err) == -1 ||
        check_owner(db, *version, err) == -1)
        goto fail;
    if (*version == STORE_SCHEMA_VERSION)
        return exec(db, "COMMIT", "ending schema check", err);
    snprintf(what, sizeof(what), "schema migration %d to %d", *version, *version + 1);
    /* PRAGMA takes no bound parameters; the value is our own integer. */
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", *version + 1);
    if (exec(db, migrations[*version], what, err) == -1 ||
        check_foreign_keys(db, fk_checks[*version], what, err) == -1 ||
        exec(db, bump, what, err) == -1 || exec(db, "COMMIT", what, err) == -1)
        goto fail;
    log_info("store: migrated schema from=%d to=%d", *version, *version + 1);
    return 1;
fail:
    /* Fails only when sqlite already rolled back by itself. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Every step runs with foreign keys off (PRAGMA foreign_keys does nothing inside a transaction,
 * so they are turned off around them all): rebuilding a table (version 10) drops the old one,
 * which with foreign keys on deletes the rows that refer to it (ON DELETE CASCADE). A step
 * therefore cannot rely on a cascade; one that rebuilds a table checks the tables that refer to
 * it (fk_checks[]). They are on again before the store is used, whatever happened. */
int store_schema_migrate(sqlite3 *db, char **err)
{
    char *msg = NULL;
    int version = 0, rc = -1, on = 0;

    if (exec(db, "PRAGMA foreign_keys = OFF", "starting schema migration", &msg) == 0)
        while ((rc = migrate_step(db, &version, &msg)) == 1)
            ;
    /* On again, whatever happened (the store is closed after a failure anyway). */
    int fk = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc == 0 &&
        (fk != SQLITE_OK || read_int(db, "PRAGMA foreign_keys", &on, &msg) == -1 || on != 1)) {
        if (msg == NULL)
            msg =
                xasprintf("ending schema migration: foreign keys are off: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    if (rc == -1) {
        if (err != NULL)
            *err = msg;
        else
            free(msg);
        return -1;
    }
    return 0;
}
