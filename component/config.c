/* Configuration loading: libinih drives a table of known keys; our reader counts lines so each
 * problem is reported as file:line, and every problem is listed rather than only the first. */
#include "component/config.h"

#include "component/engine/cert.h"
#include "component/engine/cert_files.h"
#include "component/engine/hook.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/parser.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONFIG_DIR SYSCONFDIR
#define DEFAULT_STORE LOCALSTATEDIR "/lib/imdomaind/imdomaind.db"
#define DEFAULT_SOCKET RUNSTATEDIR "/imdomaind/control.sock"

/* A list key in the file being read: its line replaces the list (the defaults), continuation
 * lines add to it, the key again is an error. */
enum list_seen {
    LIST_UNSEEN,
    LIST_READ,
    LIST_FULL, /* above its limit (said once) */
};

struct load_ctx {
    struct config *cfg;
    const char *path;
    FILE *errs;
    FILE *fp;
    int line;
    int problems;
    int read_errno; /* set when reading the file failed (a directory, an I/O error) */
    bool indented;  /* the line being parsed starts with a blank: for a list, a continuation */
    bool refused;   /* the list line continued by indented lines was refused: so are they */
    enum list_seen admins_seen, peers_seen;
};

enum key_kind { K_STR, K_INT, K_SIZE, K_BOOL, K_MODE, K_LEVEL, K_ADMINS, K_PEERS, K_ROUTER };

struct key_def {
    const char *section;
    const char *name;
    enum key_kind kind;
    size_t offset;
    long min, max;
};

#define OFF(field) offsetof(struct config, field)

static const struct key_def keys[] = {
    {"component", "jid", K_STR, OFF(jid), 0, 0},
    {"component", "secret", K_STR, OFF(secret), 0, 0},
    {"component", "secret_file", K_STR, OFF(secret_file), 0, 0},
    {"component", "router_host", K_STR, OFF(router_host), 0, 0},
    {"component", "router_port", K_INT, OFF(router_port), 1, 65535},
    {"component", "max_stanza_size", K_SIZE, OFF(max_stanza_size), 4096, 64L << 20},
    {"component", "max_depth", K_INT, OFF(max_depth), 4, 1024},
    {"component", "max_children", K_INT, OFF(max_children), 16, 1 << 20},
    {"component", "max_attributes", K_INT, OFF(max_attributes), 8, 1024},
    {"component", "keepalive", K_INT, OFF(keepalive), 1, 3600},
    {"component", "reconnect_max", K_INT, OFF(reconnect_max), 1, 3600},
    {"component", "send_queue_max", K_SIZE, OFF(send_queue_max), 65536, 1L << 30},
    {"admins", "jids", K_ADMINS, 0, 0, 0},
    {"store", "path", K_STR, OFF(store_path), 0, 0},
    {"control", "socket", K_STR, OFF(control_socket), 0, 0},
    {"control", "mode", K_MODE, OFF(control_mode), 0, 0777},
    {"control", "group", K_STR, OFF(control_group), 0, 0},
    {"control", "max_clients", K_INT, OFF(control_max_clients), 1, 1024},
    {"control", "idle_timeout", K_INT, OFF(control_idle_timeout), 1, 86400},
    {"log", "level", K_LEVEL, OFF(log_level), 0, 0},
    {"log", "syslog", K_BOOL, OFF(log_syslog), 0, 1},
    {"commands", "session_timeout", K_INT, OFF(session_timeout), 1, 86400},
    {"commands", "max_sessions_per_jid", K_INT, OFF(max_sessions_per_jid), 1, 100000},
    {"commands", "max_sessions", K_INT, OFF(max_sessions), 1, 1000000},
    {"router", "kind", K_ROUTER, OFF(router_kind), 0, 0},
    {"router", "vhosts_file", K_STR, OFF(vhosts_file), 0, 0},
    {"router", "reload_hook", K_STR, OFF(reload_hook), 0, 0},
    {"router", "hook_timeout", K_INT, OFF(hook_timeout), 1, 3600},
    {"certs", "dir", K_STR, OFF(cert_dir), 0, 0},
    {"certs", "key_type", K_STR, OFF(cert_key_type), 0, 0},
    {"certs", "days", K_INT, OFF(cert_days), 1, 3650},
    {"certs", "ca_file", K_STR, OFF(cert_ca_file), 0, 0},
    {"certs", "warn_days", K_INT, OFF(cert_warn_days), 0, 3650},
    {"certs", "critical_days", K_INT, OFF(cert_critical_days), 0, 3650},
    {"certs", "key_group", K_STR, OFF(cert_key_group), 0, 0},
    {"federation", "timeout", K_INT, OFF(federation_timeout), 1, 300},
    {"federation", "resolve", K_STR, OFF(federation_resolve), 0, 0},
    {"ha", "settle_time", K_INT, OFF(settle_time), 0, 86400},
    {"services", "start_hook", K_STR, OFF(start_hook), 0, 0},
    {"services", "stop_hook", K_STR, OFF(stop_hook), 0, 0},
    {"services", "status_hook", K_STR, OFF(status_hook), 0, 0},
    {"services", "hook_timeout", K_INT, OFF(service_hook_timeout), 1, 3600},
    {"peers", "jids", K_PEERS, 0, 0, 0},
    {"peers", "refresh", K_INT, OFF(peer_refresh), 1, 7 * 86400},
    {"peers", "timeout", K_INT, OFF(peer_timeout), 1, 300},
    {"peers", "forget_after", K_INT, OFF(peer_forget_after), 0, 3650 * 86400},
    {"directory", "uri", K_STR, OFF(dir_uri), 0, 0},
    {"directory", "starttls", K_BOOL, OFF(dir_starttls), 0, 1},
    {"directory", "ca_file", K_STR, OFF(dir_ca_file), 0, 0},
    {"directory", "bind_dn", K_STR, OFF(dir_bind_dn), 0, 0},
    {"directory", "bind_password_file", K_STR, OFF(dir_bind_password_file), 0, 0},
    {"directory", "base", K_STR, OFF(dir_base), 0, 0},
    {"directory", "filter", K_STR, OFF(dir_filter), 0, 0},
    {"directory", "userid_attr", K_STR, OFF(dir_userid_attr), 0, 0},
    {"directory", "uri_attr", K_STR, OFF(dir_uri_attr), 0, 0},
    {"directory", "node_attr", K_STR, OFF(dir_node_attr), 0, 0},
    {"directory", "page_size", K_INT, OFF(dir_page_size), 1, 100000},
    {"directory", "schedule", K_STR, OFF(dir_schedule), 0, 0},
    {"directory", "timeout", K_INT, OFF(dir_timeout), 1, 3600},
    {"directory", "max_drop", K_INT, OFF(dir_max_drop), 0, 100},
    {"users", "import_job_lines", K_INT, OFF(import_job_lines), 1, 50000},
};

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->router_host = xstrdup("127.0.0.1");
    cfg->router_port = 5347;
    cfg->max_stanza_size = 256 * 1024;
    cfg->max_depth = 64;
    cfg->max_children = PARSER_DEFAULT_MAX_CHILDREN;
    cfg->max_attributes = PARSER_DEFAULT_MAX_ATTRIBUTES;
    cfg->keepalive = 60;
    cfg->reconnect_max = 30;
    cfg->send_queue_max = 4 * 1024 * 1024;
    cfg->store_path = xstrdup(DEFAULT_STORE);
    cfg->control_socket = xstrdup(DEFAULT_SOCKET);
    cfg->control_mode = 0600;
    cfg->control_max_clients = 32;
    cfg->control_idle_timeout = 300;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->session_timeout = 600;
    cfg->max_sessions_per_jid = 16;
    cfg->max_sessions = 1024;
    cfg->hook_timeout = 10;
    cfg->cert_key_type = xstrdup("rsa-2048");
    cfg->cert_days = 365;
    cfg->cert_warn_days = 30;
    cfg->cert_critical_days = 7;
    cfg->cert_key_gid = CERT_FILES_NO_GROUP;
    cfg->federation_timeout = 10;
    cfg->settle_time = 120;
    cfg->service_hook_timeout = 30;
    cfg->peer_refresh = 300;
    cfg->peer_timeout = 10;
    cfg->peer_forget_after = 7 * 86400;
    cfg->dir_filter = xstrdup("(objectClass=inetOrgPerson)");
    cfg->dir_userid_attr = xstrdup("uid");
    cfg->dir_uri_attr = xstrdup("mail");
    cfg->dir_page_size = 500;
    cfg->dir_timeout = 30;
    cfg->dir_max_drop = 20;
    cfg->import_job_lines = 5000;
}

static void problem(struct load_ctx *lc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct load_ctx *lc, const char *fmt, ...)
{
    va_list ap;

    lc->problems++;
    if (lc->errs == NULL)
        return;
    fprintf(lc->errs, "%s:%d: ", lc->path, lc->line);
    va_start(ap, fmt);
    vfprintf(lc->errs, fmt, ap);
    va_end(ap);
    fputc('\n', lc->errs);
}

static int parse_long(const char *value, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Accepts a plain number of bytes or a K/M/G suffix (binary multiples). */
static int parse_size(const char *value, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || v < 0)
        return -1;
    long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024L, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024L * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1024L * 1024 * 1024, end++;
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end != '\0' || v > LONG_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_bool(const char *value, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(value, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* A bare JID has a domain and no resource; we store it lower-cased for comparison. */
static int admin_jid_valid(const char *jid)
{
    const char *at = strchr(jid, '@');
    const char *domain = at ? at + 1 : jid;

    if (*jid == '\0' || strchr(jid, '/') || strchr(jid, ' ') || *domain == '\0')
        return 0;
    if (at && (at == jid || strchr(domain, '@')))
        return 0;
    return 1;
}

/* A comma list of JIDs into `list` (lower-cased, each once, at most `max`); `what` names the
 * key. The key's line replaces the list; its continuation lines (indented: inih gives each as
 * the key again) add to it, so that a list longer than inih's 200-byte line can be written.
 * The key again, unindented, is an error: it used to replace the list, and adding to it
 * instead would silently give rights back to whoever an earlier line named. A peer is a
 * component: a domain JID without a local part. */
static void set_jids(struct load_ctx *lc, const char *value, char **list, size_t *n, size_t max,
                     enum list_seen *seen, const char *what, bool domain_only)
{
    char *copy, *save = NULL;

    if (lc->indented && lc->refused)
        return;
    if (*seen != LIST_UNSEEN && !lc->indented) {
        problem(lc, "%s: the key is given twice (a long list goes on indented lines below it)",
                what);
        lc->refused = true;
        return;
    }
    copy = xstrdup(value);
    if (*seen == LIST_UNSEEN) {
        for (size_t i = 0; i < *n; i++)
            free(list[i]);
        *n = 0;
        *seen = LIST_READ;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *jid = trim(tok);
        if (*jid == '\0')
            continue;
        if (!admin_jid_valid(jid) || (domain_only && strchr(jid, '@'))) {
            problem(lc, "%s: '%s' is not a %s", what, jid,
                    domain_only ? "component JID (a domain, no user or resource)"
                                : "bare JID (user@domain, no resource)");
            continue;
        }
        char *lower = xstrdup(jid);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        bool again = false;
        for (size_t i = 0; i < *n && !again; i++)
            again = strcmp(list[i], lower) == 0;
        if (again) {
            free(lower);
            continue;
        }
        if (*n == max) {
            free(lower);
            if (*seen != LIST_FULL)
                problem(lc, "%s: more than %zu JIDs", what, max);
            *seen = LIST_FULL;
            break;
        }
        list[(*n)++] = lower;
    }
    free(copy);
}

static void set_value(struct load_ctx *lc, const struct key_def *k, const char *value)
{
    char *base = (char *)lc->cfg;
    long v;
    int b;
    enum log_level level;

    switch (k->kind) {
    case K_STR:
        free(*(char **)(base + k->offset));
        *(char **)(base + k->offset) = xstrdup(value);
        return;
    case K_INT:
    case K_SIZE:
        if ((k->kind == K_INT ? parse_long(value, &v) : parse_size(value, &v)) < 0 ||
            v < k->min || v > k->max) {
            problem(lc, "%s.%s: '%s' is not a number from %ld to %ld", k->section, k->name,
                    value, k->min, k->max);
            return;
        }
        if (k->kind == K_INT)
            *(int *)(base + k->offset) = (int)v;
        else
            *(size_t *)(base + k->offset) = (size_t)v;
        return;
    case K_BOOL:
        if (parse_bool(value, &b) < 0)
            problem(lc, "%s.%s: '%s' is not a boolean (true/false)", k->section, k->name, value);
        else
            *(int *)(base + k->offset) = b;
        return;
    case K_MODE: {
        char *end;
        v = strtol(value, &end, 8);
        if (end == value || *end != '\0' || v < 0 || v > 0777)
            problem(lc, "%s.%s: '%s' is not an octal file mode such as 0600", k->section,
                    k->name, value);
        else
            *(mode_t *)(base + k->offset) = (mode_t)v;
        return;
    }
    case K_LEVEL:
        if (log_level_parse(value, &level) < 0)
            problem(lc, "log.level: '%s' is not one of error, warn, info, debug", value);
        else
            *(int *)(base + k->offset) = (int)level;
        return;
    case K_ROUTER:
        if (strcmp(value, "prosody") == 0)
            *(int *)(base + k->offset) = CONFIG_ROUTER_PROSODY;
        else if (strcmp(value, "ejabberd") == 0)
            *(int *)(base + k->offset) = CONFIG_ROUTER_EJABBERD;
        else
            problem(lc, "router.kind: '%s' is not one of prosody, ejabberd", value);
        return;
    case K_ADMINS:
        set_jids(lc, value, lc->cfg->admins, &lc->cfg->n_admins, CONFIG_MAX_ADMINS,
                 &lc->admins_seen, "admins", false);
        return;
    case K_PEERS:
        set_jids(lc, value, lc->cfg->peers, &lc->cfg->n_peers, CONFIG_MAX_PEERS, &lc->peers_seen,
                 "peers.jids", true);
        return;
    }
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    int known_section = 0;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        known_section = 1;
        if (strcmp(keys[i].name, name) == 0) {
            set_value(lc, &keys[i], value);
            return 1;
        }
    }
    if (!known_section)
        problem(lc, "unknown section [%s]", section);
    else
        problem(lc, "unknown key '%s' in section [%s]", name, section);
    return 1; /* keep going: report every problem, not only the first */
}

/* inih calls the reader once per line, which gives us the line number for messages. inih reads
 * into a buffer of `num` bytes (INI_MAX_LINE, 200 in Debian's build): a longer line would come
 * in pieces, each parsed as a line of its own (a value cut short, then a syntax error). Such a
 * line is refused as a whole instead and given to inih as an empty line. */
static char *count_lines(char *str, int num, void *stream)
{
    struct load_ctx *lc = stream;
    char *r = fgets(str, num, lc->fp);
    size_t len;
    int c;

    if (r == NULL) {
        if (ferror(lc->fp))
            lc->read_errno = errno; /* inih takes NULL for the end: say why it came early */
        return NULL;
    }
    lc->line++;
    lc->indented = str[0] == ' ' || str[0] == '\t';
    if (!lc->indented)
        lc->refused = false;
    len = strlen(str);
    if (len > 0 && str[len - 1] != '\n' && (c = fgetc(lc->fp)) != EOF) {
        while (c != '\n' && c != EOF)
            c = fgetc(lc->fp);
        /* Names the key only: the value may be a secret. */
        size_t key = strcspn(str, "=");
        if (str[key] == '=' && key <= 40)
            problem(lc,
                    "the line is longer than %d bytes (not read): %.*s= ... (a list goes on "
                    "indented lines below its key)",
                    num - 2, (int)key, str);
        else
            problem(lc, "the line is longer than %d bytes (not read)", num - 2);
        snprintf(str, (size_t)num, "\n");
    }
    return r;
}

char *config_warnings(const struct config *cfg)
{
    if (cfg->settle_time >= 120)
        return NULL;
    return xasprintf("[ha] settle_time = %d s is below the guide's 2 minutes: domain changes may "
                     "go ahead before the HA setting has synced across the cluster",
                     cfg->settle_time);
}

int config_load(struct config *cfg, const char *path, FILE *errs)
{
    struct load_ctx lc = {.cfg = cfg, .path = path, .errs = errs};

    lc.fp = fopen(path, "r");
    if (lc.fp == NULL) {
        if (errs)
            fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = ini_parse_stream(count_lines, &lc, on_key, &lc);
    fclose(lc.fp);
    if (rc > 0 && rc != lc.line) {
        /* A syntax error that inih found itself (not one of ours, which return 1). */
        lc.line = rc;
        problem(&lc, "syntax error");
    } else if (rc > 0) {
        problem(&lc, "syntax error (expected 'key = value' or '[section]')");
    } else if (rc < 0) {
        problem(&lc, "cannot read the file");
    } else if (lc.read_errno != 0) {
        problem(&lc, "cannot read the file: %s", strerror(lc.read_errno));
    }
    return lc.problems;
}

static char *read_secret_file(const char *path, const char **why)
{
    FILE *fp = fopen(path, "r");
    char buf[1024];

    if (fp == NULL) {
        *why = strerror(errno);
        return NULL;
    }
    char *line = fgets(buf, sizeof(buf), fp);
    fclose(fp);
    if (line == NULL) {
        *why = "the file is empty";
        return NULL;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0') {
        *why = "the first line is empty";
        return NULL;
    }
    return xstrdup(buf);
}

/* An LDAP attribute description: letters, digits, '-' and ';' (options), starting with a
 * letter, or a numeric OID. */
static bool attr_name_ok(const char *a)
{
    if (a == NULL || !isalnum((unsigned char)a[0]))
        return false;
    for (const char *p = a; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != ';' && *p != '.')
            return false;
    return strlen(a) <= 128;
}

/* Every word of `uris` is an ldap:// or ldaps:// URL; NULL when fine, else the first bad one
 * (malloc'd), or all of `uris` when it has no word. */
static char *dir_bad_uri(const char *uris)
{
    char *copy = xstrdup(uris), *save = NULL, *bad = NULL;
    int n = 0;

    for (char *w = strtok_r(copy, " \t,", &save); w && !bad; w = strtok_r(NULL, " \t,", &save)) {
        n++;
        if (strncasecmp(w, "ldap://", 7) != 0 && strncasecmp(w, "ldaps://", 8) != 0)
            bad = xstrdup(w);
    }
    if (n == 0 && bad == NULL)
        bad = xstrdup(uris);
    free(copy);
    return bad;
}

/* [directory]: cross-key rules and the bind password. Returns the number of problems. */
static int dir_finish(struct config *cfg, const char *path, FILE *errs)
{
    int problems = 0;
    const char *why = NULL;
    char *bad;

#define DIR_PROBLEM(...)                                                                           \
    do {                                                                                           \
        problems++;                                                                                \
        if (errs) {                                                                                \
            fprintf(errs, "%s: directory.", path);                                                 \
            fprintf(errs, __VA_ARGS__);                                                            \
            fputc('\n', errs);                                                                     \
        }                                                                                          \
    } while (0)

    if (cfg->dir_uri == NULL || cfg->dir_uri[0] == '\0') {
        free(cfg->dir_uri);
        cfg->dir_uri = NULL;
        return 0;
    }
    if ((bad = dir_bad_uri(cfg->dir_uri)) != NULL) {
        DIR_PROBLEM("uri '%s' is not an ldap:// or ldaps:// URL", bad);
        free(bad);
    }
    if (cfg->dir_starttls && strcasestr(cfg->dir_uri, "ldaps://") != NULL)
        DIR_PROBLEM("starttls is for ldap:// URLs; ldaps:// is TLS already: drop one");
    if (cfg->dir_base == NULL || cfg->dir_base[0] == '\0')
        DIR_PROBLEM("base is required with uri (the DN the users are under, e.g. "
                    "ou=people,dc=example,dc=com)");
    if (cfg->dir_filter == NULL || cfg->dir_filter[0] != '(' ||
        cfg->dir_filter[strlen(cfg->dir_filter) - 1] != ')')
        DIR_PROBLEM("filter '%s' must be an LDAP filter in parentheses, e.g. "
                    "(objectClass=inetOrgPerson)",
                    cfg->dir_filter ? cfg->dir_filter : "");
    if (!attr_name_ok(cfg->dir_userid_attr))
        DIR_PROBLEM("userid_attr '%s' is not an attribute name", cfg->dir_userid_attr ?: "");
    if (!attr_name_ok(cfg->dir_uri_attr))
        DIR_PROBLEM("uri_attr '%s' is not an attribute name", cfg->dir_uri_attr ?: "");
    if (cfg->dir_node_attr && cfg->dir_node_attr[0] && !attr_name_ok(cfg->dir_node_attr))
        DIR_PROBLEM("node_attr '%s' is not an attribute name", cfg->dir_node_attr);
    if (cfg->dir_schedule && cfg->dir_schedule[0] &&
        (strlen(cfg->dir_schedule) != 5 || cfg->dir_schedule[2] != ':' ||
         !isdigit((unsigned char)cfg->dir_schedule[0]) ||
         !isdigit((unsigned char)cfg->dir_schedule[1]) ||
         !isdigit((unsigned char)cfg->dir_schedule[3]) ||
         !isdigit((unsigned char)cfg->dir_schedule[4]) || strcmp(cfg->dir_schedule, "24:00") >= 0 ||
         cfg->dir_schedule[3] > '5'))
        DIR_PROBLEM("schedule '%s' is not a time HH:MM (24-hour)", cfg->dir_schedule);
    if (cfg->dir_bind_dn && cfg->dir_bind_dn[0] && cfg->dir_bind_password_file == NULL)
        DIR_PROBLEM("bind_dn needs bind_password_file (a file whose first line is the password)");
    if (cfg->dir_bind_password_file) {
        char *pw = read_secret_file(cfg->dir_bind_password_file, &why);
        if (pw == NULL)
            DIR_PROBLEM("bind_password_file %s: %s", cfg->dir_bind_password_file, why);
        else
            cfg->dir_bind_password = pw;
    }
#undef DIR_PROBLEM
    return problems;
}

int config_finish(struct config *cfg, const char *path, FILE *errs)
{
    int problems = 0;
    const char *why = NULL;
    enum cert_key_type key_type;

#define FINISH_PROBLEM(...)                                                                        \
    do {                                                                                           \
        problems++;                                                                                \
        if (errs) {                                                                                \
            fprintf(errs, "%s: ", path);                                                           \
            fprintf(errs, __VA_ARGS__);                                                            \
            fputc('\n', errs);                                                                     \
        }                                                                                          \
    } while (0)

    if (cfg->jid == NULL || cfg->jid[0] == '\0')
        FINISH_PROBLEM("component.jid is required (the component's JID, e.g. domains.example.com)");
    else if (strchr(cfg->jid, '@') || strchr(cfg->jid, '/'))
        FINISH_PROBLEM("component.jid '%s' must be a domain JID without '@' or '/'", cfg->jid);
    if (cfg->secret && cfg->secret_file)
        FINISH_PROBLEM("component.secret and component.secret_file are both set; keep one");
    else if (cfg->secret_file) {
        char *s = read_secret_file(cfg->secret_file, &why);
        if (s == NULL)
            FINISH_PROBLEM("component.secret_file %s: %s", cfg->secret_file, why);
        else
            cfg->secret = s;
    } else if (cfg->secret == NULL || cfg->secret[0] == '\0') {
        FINISH_PROBLEM("component.secret or component.secret_file is required");
    }
    if (cfg->control_group && cfg->control_group[0] && getgrnam(cfg->control_group) == NULL)
        FINISH_PROBLEM("control.group '%s' does not exist", cfg->control_group);
    if (cfg->cert_key_type && cert_key_type_parse(cfg->cert_key_type, &key_type) < 0)
        FINISH_PROBLEM("certs.key_type '%s' is not one of rsa-2048, rsa-3072, rsa-4096, ec-p256, "
                       "ec-p384", cfg->cert_key_type);
    if (cfg->cert_critical_days > cfg->cert_warn_days)
        FINISH_PROBLEM("certs.critical_days (%d) must not be more than certs.warn_days (%d)",
                       cfg->cert_critical_days, cfg->cert_warn_days);
    if (cfg->cert_key_group && cfg->cert_key_group[0]) {
        char *kerr = NULL;
        if (cert_files_key_group_resolve(cfg->cert_key_group, &cfg->cert_key_gid, &kerr) < 0)
            FINISH_PROBLEM("certs.key_group: %s", kerr);
        free(kerr);
    }
    /* The daemon splits the hooks into words when it starts and refuses to start if it cannot
     * (a [services] hook also if it has no word): say so here, where `imdomaind -n` would
     * otherwise call the file OK. */
    const struct {
        const char *name, *value;
        bool words_needed;
    } hooks[] = {
        {"router.reload_hook", cfg->reload_hook, false},
        {"services.start_hook", cfg->start_hook, true},
        {"services.stop_hook", cfg->stop_hook, true},
        {"services.status_hook", cfg->status_hook, true},
    };
    for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
        char **argv = NULL, *herr = NULL;
        size_t argc = 0;
        if (hooks[i].value == NULL || hooks[i].value[0] == '\0')
            continue;
        if (hook_split_argv(hooks[i].value, &argv, &argc, &herr) < 0)
            FINISH_PROBLEM("%s: %s", hooks[i].name, herr ? herr : "does not parse");
        else if (argc == 0 && hooks[i].words_needed)
            FINISH_PROBLEM("%s: no command in '%s'", hooks[i].name, hooks[i].value);
        else if (argc > 0 && argv[0][0] == '\0') /* "" x: nothing to run */
            FINISH_PROBLEM("%s: the command word is empty in '%s'", hooks[i].name,
                           hooks[i].value);
        hook_free_argv(argv);
        free(herr);
    }
    if (cfg->peer_forget_after > 0 && cfg->peer_forget_after <= cfg->peer_refresh)
        FINISH_PROBLEM("peers.forget_after (%d) must be 0 or longer than peers.refresh (%d): "
                       "a peer would stop counting between two refreshes",
                       cfg->peer_forget_after, cfg->peer_refresh);
    problems += dir_finish(cfg, path, errs);
    if (cfg->n_admins == 0)
        log_warnx("config: no admins.jids configured; nobody can run commands over XMPP");
#undef FINISH_PROBLEM
    return problems;
}

int config_is_admin(const struct config *cfg, const char *jid)
{
    size_t len = strcspn(jid, "/");

    for (size_t i = 0; i < cfg->n_admins; i++) {
        if (strlen(cfg->admins[i]) == len && strncasecmp(cfg->admins[i], jid, len) == 0)
            return 1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    free(cfg->jid);
    if (cfg->secret)
        explicit_bzero(cfg->secret, strlen(cfg->secret));
    free(cfg->secret);
    free(cfg->secret_file);
    free(cfg->router_host);
    for (size_t i = 0; i < cfg->n_admins; i++)
        free(cfg->admins[i]);
    for (size_t i = 0; i < cfg->n_peers; i++)
        free(cfg->peers[i]);
    free(cfg->store_path);
    free(cfg->control_socket);
    free(cfg->control_group);
    free(cfg->vhosts_file);
    free(cfg->reload_hook);
    free(cfg->cert_dir);
    free(cfg->cert_key_type);
    free(cfg->cert_ca_file);
    free(cfg->cert_key_group);
    free(cfg->federation_resolve);
    free(cfg->start_hook);
    free(cfg->stop_hook);
    free(cfg->status_hook);
    free(cfg->dir_uri);
    free(cfg->dir_ca_file);
    free(cfg->dir_bind_dn);
    free(cfg->dir_bind_password_file);
    if (cfg->dir_bind_password)
        explicit_bzero(cfg->dir_bind_password, strlen(cfg->dir_bind_password));
    free(cfg->dir_bind_password);
    free(cfg->dir_base);
    free(cfg->dir_filter);
    free(cfg->dir_userid_attr);
    free(cfg->dir_uri_attr);
    free(cfg->dir_node_attr);
    free(cfg->dir_schedule);
    memset(cfg, 0, sizeof(*cfg));
}
