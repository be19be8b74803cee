/* imdomainctl: runs imdomaind's ad-hoc commands over the local control socket, for shells and
 * scripts: fills each stage's form from var=value arguments (var=@FILE and var=@- read one value
 * a line; prompting on a terminal for a missing required field) and advances until the command
 * completes. It never takes a step that changes something unless asked: a stage that offers more
 * than one way on (next and complete) is shown with its choices, and action=... picks one. A
 * large users/import is split into calls the daemon accepts and their verdicts joined. */
#include "component/daemon/ctl_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_DATA "jabber:x:data"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"
/* Results as XEP-0004 forms with their columns, beside the one form people's clients show. */
#define NS_IMD_RESULTS "urn:imdomaind:results"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define MAX_ROUNDS 64 /* stages of one command */
#define MAX_FORMS 16  /* result forms of one answer */

/* One users/import call: well under the daemon's stanza limit (max_stanza_size, 256 KiB) and any
 * control-socket frame limit, and under its line limit (IMPORT_LINES_MAX, 50000). */
#define IMPORT_CHUNK_BYTES (32u * 1024u)
#define IMPORT_CHUNK_LINES 5000u
#define VALUE_MAX 8192 /* FORM_MAX_VALUE_LEN: the daemon refuses a whole form for a longer one */
/* A part of a large import (the job mode): lines packed into values of at most VALUE_MAX bytes,
 * in a request well under CTL_FRAME_MAX, under IMPORT_LINES_MAX lines. */
#define PART_BYTES (224u * 1024u) /* storing one is a few tens of ms: it is one loop turn */
#define PART_LINES 40000u
#define FOLLOW_MS 100 /* between two looks at the job's progress */

/* Exit statuses (doc/imdomainctl.1). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,  /* error note, canceled, bad arguments, connection trouble */
    EXIT_REFUSED = 2, /* an XMPP error */
    EXIT_FORBIDDEN = 3,
    EXIT_CHOICE = 4,   /* stopped at a stage that needs action=...; nothing taken there */
    EXIT_REJECTED = 5, /* users/import: the run completed but some lines were rejected */
};

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

/* var=value (one value) or var=@FILE / var=@- (one value a line, pointing into `buf`). */
struct arg {
    char *var;
    char **values;
    size_t n;
    char *buf; /* the file's text, or NULL */
    int used;
};

struct opts {
    const char *socket;
    const char *lang;
    int json;
    const char *action; /* -a/--action, or action=... where no form has an `action` field */
    int action_used;
    FILE *output; /* -o FILE: the result's first text-multi field goes there */
    const char *output_path;
    size_t output_lines;
};

static xmpp_ctx_t *ctx;
static int sock = -1;
/* -t/--timeout: seconds to wait for one answer (0: for ever). A daemon that stopped answering
 * (stopped with SIGSTOP, a loop stuck in a bug) otherwise hangs a cron job or a script for good.
 * Long work (a key, a directory probe, a federation check) answers within its own limits, all
 * shorter than the default. */
#define DEFAULT_TIMEOUT_S 120
static long answer_timeout_s = DEFAULT_TIMEOUT_S;
static int read_timed_out;
static unsigned next_id = 1;
/* `status` speaks the monitoring-plugin convention even when it fails: one line on stdout,
 * "IMDOMAIND UNKNOWN - why", and exit status 3. */
static int die_as_unknown;

#define STATUS_EXIT_UNKNOWN 3

/* What was done when the connection breaks in the middle of a users/import (one call is one
 * transaction: the calls answered are in the store, the one under way is not). */
static char die_hint[160];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    FILE *out = die_as_unknown ? stdout : stderr;

    fflush(stdout);
    fprintf(out, die_as_unknown ? "IMDOMAIND UNKNOWN - " : "imdomainctl: ");
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    if (die_hint[0] != '\0')
        fprintf(stderr, "imdomainctl: %s\n", die_hint);
    exit(die_as_unknown ? STATUS_EXIT_UNKNOWN : 1);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: imdomainctl [-s socket] [-l lang] [-t seconds] [--json] list\n"
                 "       imdomainctl [-s socket] [-l lang] [-t seconds] [--json] [-a action] "
                 "[-o FILE] run NODE [var=value | var=@FILE | var=@- ...] "
                 "[action=next|prev|complete|cancel]\n"
                 "       imdomainctl [-s socket] [-l lang] [-t seconds] [--json] status\n");
}

static void connect_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path))
        die("socket path too long: %s", path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("cannot connect to %s: %s (is imdomaind running?)", path, strerror(errno));
    if (answer_timeout_s > 0) {
        struct timeval tv = {.tv_sec = answer_timeout_s};
        if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            die("cannot set the answer timeout: %s", strerror(errno));
    }
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            read_timed_out = 1;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends `iq` (consumed) and returns the answer, owned by the caller. */
static xmpp_stanza_t *roundtrip(xmpp_stanza_t *iq)
{
    char *text = NULL;
    size_t len = 0;
    unsigned char hdr[CTL_HEADER_LEN];

    if (xmpp_stanza_to_text(iq, &text, &len) != XMPP_EOK)
        die("cannot serialise the request");
    xmpp_stanza_release(iq);
    ctl_put_len(hdr, (uint32_t)len);
    int sent = write_all(hdr, sizeof(hdr)) == 0 && write_all(text, len) == 0;
    int write_errno = errno;
    xmpp_free(ctx, text);
    /* A refused peer is told why and disconnected, maybe before our request is written: read
     * the answer that is there before giving up on the write. */
    if (read_all(hdr, sizeof(hdr)) < 0) {
        if (read_timed_out)
            die("no answer from imdomaind within %ld s (-t to wait longer)", answer_timeout_s);
        if (!sent)
            die("cannot send to imdomaind: %s", strerror(write_errno));
        die("imdomaind closed the control connection");
    }
    uint32_t alen = ctl_get_len(hdr);
    if (alen > CTL_FRAME_MAX)
        die("answer too large (%u bytes)", alen);
    char *answer = malloc(alen + 1);
    if (answer == NULL || read_all(answer, alen) < 0) {
        if (read_timed_out)
            die("the answer stopped coming: nothing for %ld s (-t to wait longer)",
                answer_timeout_s);
        die("cannot read the answer");
    }
    answer[alen] = '\0';
    xmpp_stanza_t *reply = xmpp_stanza_new_from_string(ctx, answer);
    free(answer);
    if (reply == NULL)
        die("imdomaind sent an answer that is not XML");
    return reply;
}

static xmpp_stanza_t *child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (name && strcmp(xmpp_stanza_get_name(c), name) != 0)
            continue;
        if (ns && (xmpp_stanza_get_ns(c) == NULL || strcmp(xmpp_stanza_get_ns(c), ns) != 0))
            continue;
        return c;
    }
    return NULL;
}

static xmpp_stanza_t *new_iq(const char *type, const char *lang)
{
    char id[16];
    snprintf(id, sizeof(id), "c%u", next_id++);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, type, id);
    if (lang)
        xmpp_stanza_set_attribute(iq, "xml:lang", lang);
    return iq;
}

static xmpp_stanza_t *add(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(c, name);
    if (ns)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child_ex(parent, c, 0);
    return c;
}

static void add_text(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *el = add(parent, name, NULL);
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);
    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child_ex(el, t, 0);
}

/* Returns the text of <name> under `st` (caller frees) or NULL. */
static char *text_of(xmpp_stanza_t *st, const char *name)
{
    xmpp_stanza_t *c = child(st, name, NULL);
    return c ? xmpp_stanza_get_text(c) : NULL;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            printf("\\n");
        else if (ch == '\t')
            printf("\\t");
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Reports a stanza error and returns the exit status for it. */
static int report_error(xmpp_stanza_t *reply, const struct opts *o)
{
    xmpp_stanza_t *err = child(reply, "error", NULL);
    const char *cond = "undefined-condition";
    char *text = NULL;
    const char *extra = NULL;

    for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *ns = xmpp_stanza_get_ns(c);
        if (strcmp(xmpp_stanza_get_name(c), "text") == 0)
            text = xmpp_stanza_get_text(c);
        else if (ns && strcmp(ns, NS_STANZAS) == 0)
            cond = xmpp_stanza_get_name(c);
        else if (ns && strcmp(ns, NS_COMMANDS) == 0)
            extra = xmpp_stanza_get_name(c);
    }
    if (o->json) {
        printf("{\"status\":\"error\",\"condition\":");
        json_str(cond);
        if (extra) {
            printf(",\"command_condition\":");
            json_str(extra);
        }
        printf(",\"text\":");
        json_str(text ? text : "");
        printf("}\n");
    } else {
        fprintf(stderr, "imdomainctl: error: %s%s%s%s%s\n", cond, extra ? " (" : "",
                extra ? extra : "", extra ? ")" : "", "");
        if (text)
            fprintf(stderr, "imdomainctl: %s\n", text);
    }
    if (text)
        xmpp_free(ctx, text);
    return strcmp(cond, "forbidden") == 0 ? 3 : 2;
}

static int cmd_list(const struct opts *o)
{
    xmpp_stanza_t *iq = new_iq("get", o->lang);
    xmpp_stanza_t *q = add(iq, "query", NS_ITEMS);
    xmpp_stanza_set_attribute(q, "node", NS_COMMANDS);
    xmpp_stanza_t *reply = roundtrip(iq);

    if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
        int rc = report_error(reply, o);
        xmpp_stanza_release(reply);
        return rc;
    }
    q = child(reply, "query", NS_ITEMS);
    if (o->json)
        printf("[");
    int first = 1;
    for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
         it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0)
            continue;
        const char *node = xmpp_stanza_get_attribute(it, "node");
        const char *name = xmpp_stanza_get_attribute(it, "name");
        if (o->json) {
            printf("%s{\"node\":", first ? "" : ",");
            json_str(node);
            printf(",\"name\":");
            json_str(name ? name : "");
            printf("}");
        } else {
            printf("%-44s %s\n", node ? node : "", name ? name : "");
        }
        first = 0;
    }
    if (o->json)
        printf("]\n");
    xmpp_stanza_release(reply);
    return 0;
}

static void print_field_text(xmpp_stanza_t *f)
{
    const char *label = xmpp_stanza_get_attribute(f, "label");
    const char *var = xmpp_stanza_get_attribute(f, "var");
    const char *type = xmpp_stanza_get_attribute(f, "type");
    int n = 0;

    if (type && strcmp(type, "hidden") == 0)
        return;
    printf("%s:", label ? label : var ? var : "");
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
        if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
            continue;
        char *t = xmpp_stanza_get_text(v);
        printf("%s%s", n++ ? (type && strstr(type, "multi") ? "\n  " : ", ") : " ", t ? t : "");
        if (t)
            xmpp_free(ctx, t);
    }
    putchar('\n');
}

static void print_cells_text(xmpp_stanza_t *row, const char *elname)
{
    int first = 1;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(row); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        const char *label = xmpp_stanza_get_attribute(f, "label");
        char *t = NULL;
        if (elname == NULL) {
            t = text_of(f, "value");
        }
        printf("%s%s", first ? "" : "\t",
               elname ? (label ? label : xmpp_stanza_get_attribute(f, "var")) : (t ? t : ""));
        if (t)
            xmpp_free(ctx, t);
        first = 0;
    }
    putchar('\n');
}

static void print_form_text(xmpp_stanza_t *x)
{
    char *title = text_of(x, "title");
    if (title) {
        printf("== %s ==\n", title);
        xmpp_free(ctx, title);
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        if (strcmp(name, "instructions") == 0) {
            char *t = xmpp_stanza_get_text(c);
            printf("%s\n", t ? t : "");
            if (t)
                xmpp_free(ctx, t);
        } else if (strcmp(name, "field") == 0) {
            print_field_text(c);
        } else if (strcmp(name, "reported") == 0) {
            print_cells_text(c, "label");
        } else if (strcmp(name, "item") == 0) {
            print_cells_text(c, NULL);
        }
    }
}

static void json_values(xmpp_stanza_t *f)
{
    int n = 0;
    printf("[");
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
        if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
            continue;
        char *t = xmpp_stanza_get_text(v);
        printf("%s", n++ ? "," : "");
        json_str(t ? t : "");
        if (t)
            xmpp_free(ctx, t);
    }
    printf("]");
}

static void print_form_json(xmpp_stanza_t *x)
{
    char *title = text_of(x, "title");
    int nf = 0, nr = 0, nc = 0;

    printf("{\"type\":");
    json_str(xmpp_stanza_get_type(x));
    printf(",\"title\":");
    json_str(title ? title : "");
    if (title)
        xmpp_free(ctx, title);
    printf(",\"fields\":{");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "field") != 0)
            continue;
        printf("%s", nf++ ? "," : "");
        json_str(xmpp_stanza_get_attribute(c, "var"));
        printf(":");
        json_values(c);
    }
    printf("},\"columns\":[");
    xmpp_stanza_t *rep = child(x, "reported", NULL);
    for (xmpp_stanza_t *c = rep ? xmpp_stanza_get_children(rep) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        printf("%s{\"var\":", nc++ ? "," : "");
        json_str(xmpp_stanza_get_attribute(c, "var"));
        printf(",\"label\":");
        json_str(xmpp_stanza_get_attribute(c, "label"));
        printf("}");
    }
    printf("],\"rows\":[");
    for (xmpp_stanza_t *it = xmpp_stanza_get_children(x); it; it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0)
            continue;
        printf("%s{", nr++ ? "," : "");
        int n = 0;
        for (xmpp_stanza_t *f = xmpp_stanza_get_children(it); f; f = xmpp_stanza_get_next(f)) {
            if (!xmpp_stanza_is_tag(f))
                continue;
            char *t = text_of(f, "value");
            printf("%s", n++ ? "," : "");
            json_str(xmpp_stanza_get_attribute(f, "var"));
            printf(":");
            json_str(t ? t : "");
            if (t)
                xmpp_free(ctx, t);
        }
        printf("}");
    }
    printf("]}");
}

/* The ways on that a stage offers (cancel is always there) and its default. */
struct offer {
    int next, prev, complete;
    const char *dflt;
};

static void json_choices(const struct offer *of)
{
    const char *names[] = {"next", "prev", "complete", "cancel"};
    int on[] = {of->next, of->prev, of->complete, 1}, n = 0;

    printf(",\"choices\":[");
    for (int i = 0; i < 4; i++)
        if (on[i]) {
            printf("%s", n++ ? "," : "");
            json_str(names[i]);
        }
    printf("],\"default\":");
    json_str(of->dflt);
}

/* A result table longer than a page arrives as executing replies whose forms are results,
 * one page each. Scripts want the whole table: the first page's forms are kept and the rows of
 * every later page appended to them, then printed in place of the last page's forms. */
/* Where the result forms are: the payload for programs when there is one (the form beside it
 * is for people: tables as lines of text), else the command itself. */
static xmpp_stanza_t *results_of(xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *data = child(cmd, "results", NS_IMD_RESULTS);

    return data ? data : cmd;
}

struct pages {
    xmpp_stanza_t *forms[MAX_FORMS];
    int n;
};

static int is_page(xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *x = child(cmd, "x", NS_DATA);
    const char *type = x ? xmpp_stanza_get_type(x) : NULL;

    return type && strcmp(type, "result") == 0;
}

/* A text-multi field paged by its command (users/export) grows by each page's values. */
static void pages_add_multi(xmpp_stanza_t *kept, xmpp_stanza_t *page)
{
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(page); f; f = xmpp_stanza_get_next(f)) {
        const char *type = xmpp_stanza_is_tag(f) ? xmpp_stanza_get_type(f) : NULL;
        const char *var =
            type && strcmp(type, "text-multi") == 0 ? xmpp_stanza_get_attribute(f, "var") : NULL;
        if (var == NULL)
            continue;
        for (xmpp_stanza_t *k = xmpp_stanza_get_children(kept); k; k = xmpp_stanza_get_next(k)) {
            const char *kv = xmpp_stanza_is_tag(k) ? xmpp_stanza_get_attribute(k, "var") : NULL;
            if (kv == NULL || strcmp(kv, var) != 0)
                continue;
            for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v))
                if (xmpp_stanza_is_tag(v) && strcmp(xmpp_stanza_get_name(v), "value") == 0)
                    xmpp_stanza_add_child_ex(k, xmpp_stanza_copy(v), 0);
            break;
        }
    }
}

/* -o FILE: the values of the first text-multi field of `cmd`'s first form, one a line. */
static void write_output(struct opts *o, xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *x = child(results_of(cmd), "x", NS_DATA);

    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        const char *type = xmpp_stanza_is_tag(f) ? xmpp_stanza_get_type(f) : NULL;
        if (type == NULL || strcmp(type, "text-multi") != 0)
            continue;
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
            if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
                continue;
            char *t = xmpp_stanza_get_text(v);
            if (fprintf(o->output, "%s\n", t ? t : "") < 0)
                die("cannot write %s: %s", o->output_path, strerror(errno));
            o->output_lines++;
            if (t)
                xmpp_free(ctx, t);
        }
        return;
    }
}

static void pages_add(struct pages *p, xmpp_stanza_t *cmd)
{
    int i = 0;

    for (xmpp_stanza_t *x = xmpp_stanza_get_children(results_of(cmd)); x && i < MAX_FORMS;
         x = xmpp_stanza_get_next(x)) {
        if (!xmpp_stanza_is_tag(x) || strcmp(xmpp_stanza_get_name(x), "x") != 0)
            continue;
        if (i == p->n) { /* first seen: keep the whole form */
            p->forms[p->n++] = xmpp_stanza_copy(x);
        } else {
            for (xmpp_stanza_t *it = xmpp_stanza_get_children(x); it; it = xmpp_stanza_get_next(it))
                if (xmpp_stanza_is_tag(it) && strcmp(xmpp_stanza_get_name(it), "item") == 0)
                    xmpp_stanza_add_child_ex(p->forms[i], xmpp_stanza_copy(it), 0);
            pages_add_multi(p->forms[i], x);
        }
        i++;
    }
}

static void pages_clear(struct pages *p)
{
    for (int i = 0; i < p->n; i++)
        xmpp_stanza_release(p->forms[i]);
    p->n = 0;
}

/* Prints a finished command's notes and forms (the pages' forms, when it was paged); returns 1
 * if a note is an error. */
static int print_outcome(xmpp_stanza_t *cmd, const struct opts *o, const struct pages *pages,
                         const struct offer *choices)
{
    int failed = 0, n = 0;

    if (o->json) {
        printf("{\"status\":");
        json_str(xmpp_stanza_get_attribute(cmd, "status"));
        printf(",\"node\":");
        json_str(xmpp_stanza_get_attribute(cmd, "node"));
        printf(",\"notes\":[");
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(cmd); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "note") != 0)
            continue;
        const char *type = xmpp_stanza_get_attribute(c, "type");
        char *t = xmpp_stanza_get_text(c);
        if (type && strcmp(type, "error") == 0)
            failed = 1;
        if (o->json) {
            printf("%s{\"type\":", n++ ? "," : "");
            json_str(type ? type : "info");
            printf(",\"text\":");
            json_str(t ? t : "");
            printf("}");
        } else {
            fprintf(type && strcmp(type, "info") != 0 ? stderr : stdout, "%s: %s\n",
                    type ? type : "info", t ? t : "");
        }
        if (t)
            xmpp_free(ctx, t);
    }
    if (o->json)
        printf("],\"forms\":[");
    n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(results_of(cmd)); c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "x") != 0)
            continue;
        xmpp_stanza_t *x = n < pages->n ? pages->forms[n] : c;
        if (o->output != NULL && !o->json) /* the lines went to the file */
            continue;
        if (o->json) {
            printf("%s", n ? "," : "");
            print_form_json(x);
        } else {
            print_form_text(x);
        }
        n++;
    }
    if (o->json) {
        printf("]");
        if (choices)
            json_choices(choices);
        printf("}\n");
    }
    return failed;
}

static char *prompt_for(const char *var, const char *label)
{
    char buf[4096];

    fprintf(stderr, "%s%s%s%s: ", label ? label : var, label ? " [" : "", label ? var : "",
            label ? "]" : "");
    if (fgets(buf, sizeof(buf), stdin) == NULL)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

/* Builds the submitted form for `form` from the arguments. Returns NULL and names the field
 * when a required one has no value and no terminal to ask on. */
static int form_has_field(xmpp_stanza_t *form, const char *var)
{
    for (xmpp_stanza_t *f = form ? xmpp_stanza_get_children(form) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        const char *v = xmpp_stanza_is_tag(f) && strcmp(xmpp_stanza_get_name(f), "field") == 0
                            ? xmpp_stanza_get_attribute(f, "var")
                            : NULL;
        if (v && strcmp(v, var) == 0)
            return 1;
    }
    return 0;
}

/* Builds the submitted form for `form` from the arguments. Returns NULL and names the field
 * when a required one has no value and no terminal to ask on. */
static xmpp_stanza_t *fill_form(xmpp_stanza_t *form, struct arg *args, size_t nargs,
                                const char **missing)
{
    xmpp_stanza_t *x = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(x, "x");
    xmpp_stanza_set_ns(x, NS_DATA);
    xmpp_stanza_set_type(x, "submit");
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(form); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        const char *type = xmpp_stanza_get_attribute(f, "type");
        if (var == NULL || (type && strcmp(type, "fixed") == 0))
            continue;
        int multi = type && strstr(type, "multi");
        xmpp_stanza_t *out = add(x, "field", NULL);
        xmpp_stanza_set_attribute(out, "var", var);
        int given = 0;
        for (size_t i = 0; i < nargs; i++) {
            if (args[i].used || strcmp(args[i].var, var) != 0)
                continue;
            for (size_t k = 0; k < args[i].n && (multi || k == 0); k++)
                add_text(out, "value", args[i].values[k]);
            if (!multi && args[i].n > 1)
                fprintf(stderr,
                        "imdomainctl: warning: %s takes one value; %zu given, the first "
                        "is used\n",
                        var, args[i].n);
            args[i].used = 1;
            given++;
            if (!multi)
                break;
        }
        if (given)
            continue;
        int has_default = 0;
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
            if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
                continue;
            char *t = xmpp_stanza_get_text(v);
            add_text(out, "value", t ? t : "");
            if (t)
                xmpp_free(ctx, t);
            has_default = 1;
        }
        if (has_default || child(f, "required", NULL) == NULL)
            continue;
        char *answer = isatty(STDIN_FILENO) && isatty(STDERR_FILENO)
                           ? prompt_for(var, xmpp_stanza_get_attribute(f, "label"))
                           : NULL;
        if (answer == NULL) {
            *missing = var;
            xmpp_stanza_release(x);
            return NULL;
        }
        add_text(out, "value", answer);
        free(answer);
    }
    return x;
}

/* An input stage that came back with an error note: a submitted value was refused (the daemon
 * keeps the session for clients that let a person correct it). Reports it like a bad-payload
 * error; returns 1 then. */
static int rejected(xmpp_stanza_t *cmd, const struct opts *o)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(cmd); c; c = xmpp_stanza_get_next(c)) {
        const char *type = xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "note") == 0
                               ? xmpp_stanza_get_attribute(c, "type")
                               : NULL;
        if (type == NULL || strcmp(type, "error") != 0)
            continue;
        char *t = xmpp_stanza_get_text(c);
        if (o->json) {
            printf("{\"status\":\"error\",\"condition\":\"bad-request\","
                   "\"command_condition\":\"bad-payload\",\"text\":");
            json_str(t ? t : "");
            printf("}\n");
        } else {
            fprintf(stderr, "imdomainctl: error: bad-request (bad-payload)\nimdomainctl: %s\n",
                    t ? t : "");
        }
        if (t)
            xmpp_free(ctx, t);
        return 1;
    }
    return 0;
}

static void offered(xmpp_stanza_t *cmd, struct offer *of)
{
    xmpp_stanza_t *actions = child(cmd, "actions", NULL);

    memset(of, 0, sizeof(*of));
    if (actions == NULL) { /* XEP-0050: execute is the only way on, and it completes */
        of->complete = 1;
        of->dflt = "execute";
        return;
    }
    of->next = child(actions, "next", NULL) != NULL;
    of->prev = child(actions, "prev", NULL) != NULL;
    of->complete = child(actions, "complete", NULL) != NULL;
    of->dflt = xmpp_stanza_get_attribute(actions, "execute");
    if (of->dflt == NULL)
        of->dflt = of->complete ? "complete" : of->next ? "next" : "execute";
}

/* A stage is a choice when more than one way on is offered: next and complete (prev only goes
 * back, and changes nothing). jobs/status on a failed job is one: next retries, complete leaves
 * it, cancel rolls it back. Where there is one way on, taking it is what running the command
 * with these arguments asks for. */
static int is_choice(const struct offer *of)
{
    return of->next && of->complete;
}

static int action_offered(const struct offer *of, const char *a)
{
    return strcmp(a, "cancel") == 0 || (strcmp(a, "next") == 0 && of->next) ||
           (strcmp(a, "prev") == 0 && of->prev) || (strcmp(a, "complete") == 0 && of->complete);
}

static void print_choices(const struct offer *of)
{
    const char *names[] = {"next", "prev", "complete", "cancel"};
    int on[] = {of->next, of->prev, of->complete, 1};

    printf("choices:");
    for (int i = 0; i < 4; i++)
        if (on[i])
            printf(" action=%s%s", names[i], strcmp(names[i], of->dflt) == 0 ? " (default)" : "");
    putchar('\n');
}

/* The action asked for at a choice stage: -a/--action, else an action=... argument (when the
 * stage's form has no field of that name, which it would fill). NULL: none asked. */
static const char *asked_action(struct opts *o, xmpp_stanza_t *form, struct arg *args, size_t nargs)
{
    if (o->action == NULL && !form_has_field(form, "action")) {
        for (size_t i = 0; i < nargs; i++) {
            if (!args[i].used && strcmp(args[i].var, "action") == 0 && args[i].n > 0) {
                args[i].used = 1;
                o->action = args[i].values[0];
                break;
            }
        }
    }
    if (o->action == NULL || o->action_used)
        return NULL;
    o->action_used = 1;
    return o->action;
}

static xmpp_stanza_t *command_iq(const struct opts *o, const char *node, const char *sid,
                                 const char *action)
{
    xmpp_stanza_t *iq = new_iq("set", o->lang);
    xmpp_stanza_t *cmd = add(iq, "command", NS_COMMANDS);
    xmpp_stanza_set_attribute(cmd, "node", node);
    if (sid)
        xmpp_stanza_set_attribute(cmd, "sessionid", sid);
    xmpp_stanza_set_attribute(cmd, "action", action);
    return iq;
}

/* What to do with a finished run: print it (NULL sink), or hand it to users/import's joiner. */
struct sink {
    int (*done)(struct sink *sk, xmpp_stanza_t *cmd, const struct pages *pages);
    /* Optional: each page of a paged result as it comes, instead of keeping them all. */
    void (*page)(struct sink *sk, xmpp_stanza_t *cmd);
};

/* How the completion of a run relates to the pages before it. */
enum completion {
    COMPLETION_ONLY,   /* no pages before: its rows are the whole result */
    COMPLETION_NEXT,   /* it answers next: a page of new rows (users/export's last page) */
    COMPLETION_REPEAT, /* it answers complete on the last page: that page again */
};

/* Prints the outcome of a finished run; returns the exit status. */
static int finished(xmpp_stanza_t *cmd, const char *status, const struct opts *o,
                    struct pages *pages, enum completion how, struct arg *args, size_t nargs,
                    struct sink *sk)
{
    int rc;

    if (how != COMPLETION_REPEAT && o->output && !sk)
        write_output((struct opts *)o, cmd);
    else if (how == COMPLETION_NEXT && sk && sk->page)
        sk->page(sk, cmd);
    else if (how == COMPLETION_NEXT && !o->output)
        pages_add(pages, cmd);
    if (sk)
        rc = sk->done(sk, cmd, pages);
    else
        rc = print_outcome(cmd, o, pages, NULL) || strcmp(status, "completed") != 0 ? EXIT_FAILED
                                                                                    : EXIT_OK;
    pages_clear(pages);
    for (size_t i = 0; i < nargs && sk == NULL; i++) /* users/import: once, by the caller */
        if (!args[i].used)
            fprintf(stderr, "imdomainctl: warning: argument %s was not used\n", args[i].var);
    return rc;
}

/* Ends the session `sid` of a run that cannot complete (a refusal, a missing value). Not at a
 * choice: there, cancel may act (jobs/status rolls a failed job back), and closing the
 * connection ends the session without its cancel hook anyway. */
static void cancel_session(const struct opts *o, const char *node, const char *sid)
{
    if (sid)
        xmpp_stanza_release(roundtrip(command_iq(o, node, sid, "cancel")));
}

/* Shows a choice stage and what to pass; the session is left to end with the connection. */
static int stop_at_choice(xmpp_stanza_t *cmd, const struct opts *o, const struct offer *of)
{
    struct pages none = {0};

    print_outcome(cmd, o, &none, of);
    if (!o->json)
        print_choices(of);
    if (!o->json && !o->action_used)
        fprintf(stderr, "imdomainctl: this stage offers more than one way on and none was "
                        "asked for: nothing was done here. Run again with action=CHOICE\n");
    return o->action_used ? EXIT_OK : EXIT_CHOICE;
}

static int run_command(struct opts *o, const char *node, struct arg *args, size_t nargs,
                       struct sink *sk)
{
    xmpp_stanza_t *reply = roundtrip(command_iq(o, node, NULL, "execute"));
    struct pages pages = {0};
    char *sid = NULL; /* the session, once the daemon opened one */
    int at_choice = 0;
    enum completion how = COMPLETION_ONLY;

    /* Pages of a result table do not count as stages. */
    for (int round = 0; round < MAX_ROUNDS;) {
        if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
            int rc = report_error(reply, o);
            pages_clear(&pages);
            xmpp_stanza_release(reply);
            if (!at_choice)
                cancel_session(o, node, sid);
            free(sid);
            return rc;
        }
        xmpp_stanza_t *cmd = child(reply, "command", NS_COMMANDS);
        const char *status = cmd ? xmpp_stanza_get_attribute(cmd, "status") : NULL;
        if (cmd == NULL || status == NULL)
            die("imdomaind answered without a command status");
        if (strcmp(status, "executing") != 0) {
            int rc = finished(cmd, status, o, &pages, how, args, nargs, sk);
            if (strcmp(status, "canceled") == 0 && o->action_used && o->action &&
                strcmp(o->action, "cancel") == 0)
                rc = EXIT_OK; /* asked for */
            xmpp_stanza_release(reply);
            free(sid);
            return rc;
        }
        free(sid);
        const char *sessionid = xmpp_stanza_get_attribute(cmd, "sessionid");
        if (sessionid == NULL) /* XEP-0050 requires it on every executing stage */
            die("imdomaind answered an executing stage without a session id");
        if ((sid = strdup(sessionid)) == NULL)
            die("out of memory");
        struct offer of;
        offered(cmd, &of);
        if (is_page(cmd)) { /* the run completed; the pages only browse its table */
            /* Next while offered; on the last page complete, which shows that page again
             * (a page table's), unless the command completes with its last page itself. */
            how = of.next ? COMPLETION_NEXT : COMPLETION_REPEAT;
            xmpp_stanza_t *iq = command_iq(o, node, sid, of.next ? "next" : "complete");
            if (o->output)
                write_output(o, cmd);
            else if (sk && sk->page)
                sk->page(sk, cmd);
            else
                pages_add(&pages, cmd);
            xmpp_stanza_release(reply);
            reply = roundtrip(iq);
            continue;
        }
        round++;
        /* Not at a choice: there an error note is the state shown (a failed job), and a cancel
         * would act. */
        if (!is_choice(&of) && rejected(cmd, o)) {
            /* The stage came back with a value refused: filling it again the same way would
             * loop. Say why, end the session, exit as for a refused request. */
            cancel_session(o, node, sid);
            free(sid);
            pages_clear(&pages);
            xmpp_stanza_release(reply);
            return 2;
        }
        xmpp_stanza_t *form = child(cmd, "x", NS_DATA);
        const char *act = of.dflt;
        at_choice = is_choice(&of);
        if (at_choice) {
            act = asked_action(o, form, args, nargs);
            if (act == NULL) {
                int rc = stop_at_choice(cmd, o, &of);
                xmpp_stanza_release(reply);
                free(sid);
                return rc;
            }
            if (!action_offered(&of, act)) {
                fprintf(stderr, "imdomainctl: action=%s is not offered at this stage; ", act);
                fflush(stderr);
                print_choices(&of);
                xmpp_stanza_release(reply);
                free(sid);
                return EXIT_FAILED;
            }
        }
        const char *missing = NULL;
        int with_form = strcmp(act, "cancel") != 0 && strcmp(act, "prev") != 0;
        xmpp_stanza_t *filled = form && with_form ? fill_form(form, args, nargs, &missing) : NULL;
        if (form && with_form && filled == NULL) {
            fprintf(stderr,
                    "imdomainctl: missing value for required field '%s' "
                    "(pass %s=VALUE)\n",
                    missing, missing);
            if (!at_choice)
                cancel_session(o, node, sid);
            free(sid);
            xmpp_stanza_release(reply);
            return EXIT_FAILED;
        }
        xmpp_stanza_t *iq = command_iq(o, node, sid, act);
        if (filled)
            xmpp_stanza_add_child_ex(child(iq, "command", NULL), filled, 0);
        xmpp_stanza_release(reply);
        reply = roundtrip(iq);
    }
    xmpp_stanza_release(reply);
    cancel_session(o, node, sid);
    free(sid);
    fprintf(stderr, "imdomainctl: command did not complete after %d stages\n", MAX_ROUNDS);
    return EXIT_FAILED;
}

/* The value of field `var` of form `x` (caller frees with xmpp_free), or NULL. */
static char *form_value_of(xmpp_stanza_t *x, const char *var)
{
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        const char *v;
        if (!xmpp_stanza_is_tag(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        v = xmpp_stanza_get_attribute(f, "var");
        if (v && strcmp(v, var) == 0)
            return text_of(f, "value");
    }
    return NULL;
}

/* status: the daemon's verdict as a monitoring plugin gives it. The summary line first (what
 * Nagios and Icinga show), then every field; --json prints the whole answer instead. The exit
 * status is the verdict: 0 ok, 1 warning, 2 critical, 3 unknown (no daemon, no verdict). */
static int cmd_status(const struct opts *o)
{
    static const char *const levels[] = {"ok", "warning", "critical"};
    xmpp_stanza_t *reply = roundtrip(command_iq(o, "status", NULL, "execute"));
    xmpp_stanza_t *cmd, *x;
    struct pages none = {0};
    char *state, *summary;
    int rc = STATUS_EXIT_UNKNOWN;

    if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
        xmpp_stanza_t *err = child(reply, "error", NULL);
        xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
        while (cond && !xmpp_stanza_is_tag(cond))
            cond = xmpp_stanza_get_next(cond);
        die("imdomaind refused the status command (%s)",
            cond ? xmpp_stanza_get_name(cond) : "error");
    }
    cmd = child(reply, "command", NS_COMMANDS);
    x = cmd ? child(results_of(cmd), "x", NS_DATA) : NULL;
    state = form_value_of(x, "state");
    summary = form_value_of(x, "summary");
    if (state == NULL || summary == NULL)
        die("imdomaind answered status without a state");
    for (int i = 0; i < 3; i++)
        if (strcmp(state, levels[i]) == 0)
            rc = i;
    if (o->json) {
        print_outcome(cmd, o, &none, NULL);
    } else {
        printf("%s\n", summary);
        print_form_text(x);
    }
    xmpp_free(ctx, state);
    xmpp_free(ctx, summary);
    xmpp_stanza_release(reply);
    return rc;
}

/* ---- arguments ---- */

/* Reads all of `path` ("-": standard input) into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    size_t cap = 65536, n = 0;
    char *buf;

    if (fd < 0)
        die("cannot open %s: %s", path, strerror(errno));
    if ((buf = malloc(cap)) == NULL)
        die("out of memory");
    for (;;) {
        if (cap - n < 65536) {
            cap *= 2;
            if ((buf = realloc(buf, cap)) == NULL)
                die("out of memory");
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("cannot read %s: %s", strcmp(path, "-") == 0 ? "standard input" : path,
                strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One value a line ("\n" or "\r\n"); a last line without a newline counts too. */
static void read_values(struct arg *a, const char *path)
{
    size_t len, cap = 1024;
    char *p;

    a->buf = slurp(path, &len);
    if (memchr(a->buf, '\0', len) != NULL)
        die("%s holds a NUL byte: not a text file", path);
    a->values = malloc(cap * sizeof(*a->values));
    a->n = 0;
    for (p = a->buf; a->values && p < a->buf + len;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        size_t l = strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            p[l - 1] = '\0';
        if (a->n == cap && (a->values = realloc(a->values, (cap *= 2) * sizeof(char *))) == NULL)
            break;
        a->values[a->n++] = p;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (a->values == NULL)
        die("out of memory");
}

/* var=value, var=@FILE, var=@- (standard input, once), var=@@text (the value @text). */
static struct arg *parse_args(int argc, char **argv, size_t *nargs)
{
    struct arg *args = calloc((size_t)argc + 1, sizeof(*args));
    int stdin_taken = 0;

    if (args == NULL)
        die("out of memory");
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i])
            die("argument '%s' is not var=value", argv[i]);
        struct arg *a = &args[i];
        a->var = strndup(argv[i], (size_t)(eq - argv[i]));
        const char *v = eq + 1;
        if (v[0] == '@' && v[1] != '@') {
            if (strcmp(v, "@-") == 0 && stdin_taken++)
                die("only one argument can read standard input (%s)", argv[i]);
            read_values(a, v + 1);
        } else {
            a->values = malloc(sizeof(*a->values));
            if (a->values == NULL)
                die("out of memory");
            a->values[0] = (char *)(v[0] == '@' ? v + 1 : v);
            a->n = 1;
        }
    }
    *nargs = (size_t)argc;
    return args;
}

static void free_args(struct arg *args, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(args[i].var);
        free(args[i].values);
        free(args[i].buf);
    }
    free(args);
}

/* ---- users/import in calls the daemon accepts ---- */

enum { V_ADDED, V_UPDATED, V_UNCHANGED, V_REMOVED, V_REJECTED, V_COUNT };
static const char *const verdict_names[V_COUNT] = {"added", "updated", "unchanged", "removed",
                                                   "rejected"};

struct joiner {
    struct sink sink;
    const struct opts *o;
    size_t offset;          /* lines before this call */
    size_t counts[V_COUNT]; /* over every call */
    size_t rows;            /* verdicts printed */
    int header;             /* the table's head is printed */
    char **notes;           /* distinct warnings and errors of every call, "type\ttext" */
    size_t n_notes;
    int failed; /* a call ended without completing */
    int paged;  /* this call's verdicts came in pages (the completion repeats the last) */
};

static char *field_value(xmpp_stanza_t *row, const char *var)
{
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(row); f; f = xmpp_stanza_get_next(f))
        if (xmpp_stanza_is_tag(f) && strcmp(xmpp_stanza_get_name(f), "field") == 0 &&
            xmpp_stanza_get_attribute(f, "var") &&
            strcmp(xmpp_stanza_get_attribute(f, "var"), var) == 0)
            return text_of(f, "value");
    return NULL;
}

/* The verdict table's head: JSON opens the document and the table; text prints the labels. */
static void join_header(struct joiner *j, xmpp_stanza_t *table)
{
    if (j->header)
        return;
    j->header = 1;
    if (!j->o->json) {
        if (table)
            print_cells_text(child(table, "reported", NULL), "label");
        return;
    }
    char *title = table ? text_of(table, "title") : NULL;
    printf("{\"node\":\"users/import\",\"forms\":[{\"type\":\"result\",\"title\":");
    json_str(title ? title : "");
    if (title)
        xmpp_free(ctx, title);
    printf(",\"fields\":{},\"columns\":[");
    xmpp_stanza_t *rep = table ? child(table, "reported", NULL) : NULL;
    int nc = 0;
    for (xmpp_stanza_t *c = rep ? xmpp_stanza_get_children(rep) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        printf("%s{\"var\":", nc++ ? "," : "");
        json_str(xmpp_stanza_get_attribute(c, "var"));
        printf(",\"label\":");
        json_str(xmpp_stanza_get_attribute(c, "label"));
        printf("}");
    }
    printf("],\"rows\":[");
}

/* One verdict, its line number counted from the first line of the whole input. */
static void join_row(struct joiner *j, size_t line, const char *userid, const char *result,
                     const char *reason)
{
    for (int v = 0; v < V_COUNT; v++)
        if (strcmp(result, verdict_names[v]) == 0)
            j->counts[v]++;
    if (j->o->json) {
        printf("%s{\"line\":\"%zu\",\"userid\":", j->rows ? "," : "", line);
        json_str(userid);
        printf(",\"result\":");
        json_str(result);
        printf(",\"reason\":");
        json_str(reason);
        printf("}");
    } else {
        printf("%zu\t%s\t%s\t%s\n", line, userid, result, reason);
    }
    j->rows++;
}

static void join_note(struct joiner *j, const char *type, const char *text)
{
    char *entry;

    if (asprintf(&entry, "%s\t%s", type, text) < 0)
        die("out of memory");
    for (size_t i = 0; i < j->n_notes; i++)
        if (strcmp(j->notes[i], entry) == 0) {
            free(entry);
            return;
        }
    if ((j->notes = realloc(j->notes, (j->n_notes + 1) * sizeof(char *))) == NULL)
        die("out of memory");
    j->notes[j->n_notes++] = entry;
}

/* The verdicts of `cmd`: the form whose table has a `result` column (or its kept pages). */
static void join_rows(struct joiner *j, xmpp_stanza_t *cmd, const struct pages *pages)
{
    xmpp_stanza_t *table = NULL;
    int n = 0;

    for (xmpp_stanza_t *c = xmpp_stanza_get_children(results_of(cmd)); c && !table;
         c = xmpp_stanza_get_next(c), n++) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "x") != 0) {
            n--;
            continue;
        }
        xmpp_stanza_t *x = n < pages->n ? pages->forms[n] : c;
        xmpp_stanza_t *rep = child(x, "reported", NULL);
        for (xmpp_stanza_t *f = rep ? xmpp_stanza_get_children(rep) : NULL; f;
             f = xmpp_stanza_get_next(f))
            if (xmpp_stanza_is_tag(f) && xmpp_stanza_get_attribute(f, "var") &&
                strcmp(xmpp_stanza_get_attribute(f, "var"), "result") == 0)
                table = x;
    }
    if (table == NULL && j->paged) /* a later page may carry its rows without the head */
        table = child(results_of(cmd), "x", NS_DATA);
    join_header(j, table);
    for (xmpp_stanza_t *it = table ? xmpp_stanza_get_children(table) : NULL; it;
         it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0)
            continue;
        char *line = field_value(it, "line"), *userid = field_value(it, "userid");
        char *result = field_value(it, "result"), *reason = field_value(it, "reason");
        join_row(j, j->offset + strtoul(line ? line : "0", NULL, 10), userid ? userid : "",
                 result ? result : "", reason ? reason : "");
        xmpp_free(ctx, line);
        xmpp_free(ctx, userid);
        xmpp_free(ctx, result);
        xmpp_free(ctx, reason);
    }
}

/* A page of one call's verdicts: its rows now, nothing kept. */
static void join_page(struct sink *sk, xmpp_stanza_t *cmd)
{
    struct joiner *j = (struct joiner *)sk;
    struct pages none = {0};

    j->paged = 1;
    join_rows(j, cmd, &none);
}

static int join_done(struct sink *sk, xmpp_stanza_t *cmd, const struct pages *pages)
{
    struct joiner *j = (struct joiner *)sk;
    const char *status = xmpp_stanza_get_attribute(cmd, "status");
    int first_info = 1;

    if (!j->paged)
        join_rows(j, cmd, pages);
    j->paged = 0;
    /* Notes but each call's own counts (the first info note): the summary replaces those. */
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(cmd); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "note") != 0)
            continue;
        const char *type = xmpp_stanza_get_attribute(c, "type");
        char *t = xmpp_stanza_get_text(c);
        if (type == NULL)
            type = "info";
        if (strcmp(type, "info") == 0 && first_info)
            first_info = 0;
        else
            join_note(j, type, t ? t : "");
        if (strcmp(type, "error") == 0)
            j->failed = 1;
        if (t)
            xmpp_free(ctx, t);
    }
    if (strcmp(status, "completed") != 0)
        j->failed = 1;
    return j->failed ? EXIT_FAILED : EXIT_OK;
}

/* Where the next call ends: the most lines from `from` whose values fit one request. */
static size_t chunk_end(char *const *v, size_t n, size_t from)
{
    size_t bytes = 0, i = from;

    for (; i < n && i - from < IMPORT_CHUNK_LINES; i++) {
        size_t cost = 16; /* <value></value> */
        for (const char *p = v[i]; *p; p++)
            cost += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
        if (i > from && bytes + cost > IMPORT_CHUNK_BYTES)
            break;
        bytes += cost;
    }
    return i;
}

static void join_summary(struct joiner *j, size_t total, size_t sent, int rc)
{
    const size_t *c = j->counts;

    if (j->o->json) {
        if (!j->header)
            join_header(j, NULL);
        printf("]}],\"status\":");
        json_str(rc == EXIT_OK || rc == EXIT_REJECTED ? "completed" : "failed");
        printf(",\"notes\":[");
        for (size_t i = 0; i < j->n_notes; i++) {
            char *tab = strchr(j->notes[i], '\t');
            *tab = '\0';
            printf("%s{\"type\":", i ? "," : "");
            json_str(j->notes[i]);
            printf(",\"text\":");
            json_str(tab + 1);
            printf("}");
            *tab = '\t';
        }
        printf("],\"summary\":{\"lines\":%zu,\"sent\":%zu", total, sent);
        for (int v = 0; v < V_COUNT; v++)
            printf(",\"%s\":%zu", verdict_names[v], c[v]);
        printf("}}\n");
        return;
    }
    for (size_t i = 0; i < j->n_notes; i++) {
        char *tab = strchr(j->notes[i], '\t');
        *tab = '\0';
        fprintf(strcmp(j->notes[i], "info") ? stderr : stdout, "%s: %s\n", j->notes[i], tab + 1);
        *tab = '\t';
    }
    printf("summary: %zu lines%s: %zu added, %zu updated, %zu unchanged, %zu removed, %zu "
           "rejected\n",
           total, sent < total ? " (stopped early: the rest were not sent)" : "", c[V_ADDED],
           c[V_UPDATED], c[V_UNCHANGED], c[V_REMOVED], c[V_REJECTED]);
}

static int call_used(const struct arg *call, const char *var)
{
    for (size_t i = 0; call[i].var != NULL; i++)
        if (call[i].used && strcmp(call[i].var, var) == 0)
            return 1;
    return 0;
}

/* ---- users/import as a job (more lines than the daemon's job_lines) ---- */

/* The end of the next part from line `from`, and its cost in bytes of XML. */
static size_t part_end(char *const *v, size_t n, size_t from)
{
    size_t bytes = 0, i = from;

    for (; i < n && i - from < PART_LINES; i++) {
        size_t cost = 1; /* the newline */
        for (const char *p = v[i]; *p; p++)
            cost += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
        if (i > from && bytes + cost + 16 * (bytes / VALUE_MAX + 2) > PART_BYTES)
            break;
        bytes += cost;
    }
    return i;
}

/* Adds lines [from, end) to `field` as values of at most VALUE_MAX bytes, lines joined by
 * newlines (the daemon numbers the lines of every value in order, as if one a value). */
static void add_packed(xmpp_stanza_t *field, char *const *v, size_t from, size_t end)
{
    size_t cap = VALUE_MAX + 1, len = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        die("out of memory");
    for (size_t i = from; i < end; i++) {
        size_t l = strlen(v[i]);
        if (len > 0 && len + 1 + l > VALUE_MAX) {
            buf[len] = '\0';
            add_text(field, "value", buf);
            len = 0;
        }
        if (len > 0)
            buf[len++] = '\n';
        memcpy(buf + len, v[i], l); /* l <= VALUE_MAX: longer lines were replaced */
        len += l;
    }
    buf[len] = '\0';
    add_text(field, "value", buf);
    free(buf);
}

static void add_field(xmpp_stanza_t *x, const char *var, const char *value)
{
    xmpp_stanza_t *f = add(x, "field", NULL);
    xmpp_stanza_set_attribute(f, "var", var);
    add_text(f, "value", value);
}

/* The request for lines [from, end): the part, `more` unless it is the last, and the other
 * arguments (audit, edit_directory_users) as given. */
static xmpp_stanza_t *part_iq(const struct opts *o, const char *sid, char *const *lines,
                              size_t from, size_t end, int more, struct arg *args, size_t nargs)
{
    xmpp_stanza_t *iq = command_iq(o, "users/import", sid, "complete");
    xmpp_stanza_t *x = add(child(iq, "command", NULL), "x", NS_DATA);
    xmpp_stanza_t *users;

    xmpp_stanza_set_type(x, "submit");
    users = add(x, "field", NULL);
    xmpp_stanza_set_attribute(users, "var", "users");
    add_packed(users, lines, from, end);
    add_field(x, "more", more ? "1" : "0");
    for (size_t i = 0; i < nargs; i++) {
        if (strcmp(args[i].var, "users") == 0 || strcmp(args[i].var, "more") == 0 || args[i].n == 0)
            continue;
        add_field(x, args[i].var, args[i].values[0]);
        args[i].used = 1;
    }
    return iq;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* The counts of the job's answer (the form with an `added` field) into j->counts. */
static void job_counts(struct joiner *j, xmpp_stanza_t *cmd)
{
    for (xmpp_stanza_t *x = xmpp_stanza_get_children(results_of(cmd)); x;
         x = xmpp_stanza_get_next(x)) {
        if (!xmpp_stanza_is_tag(x) || strcmp(xmpp_stanza_get_name(x), "x") != 0)
            continue;
        char *added = form_value_of(x, "added");
        if (added == NULL)
            continue;
        xmpp_free(ctx, added);
        for (int v = 0; v < V_COUNT; v++) {
            char *t = form_value_of(x, verdict_names[v]);
            j->counts[v] += t ? strtoul(t, NULL, 10) : 0;
            if (t)
                xmpp_free(ctx, t);
        }
        return;
    }
}

/*
 * Sends the lines in parts over the session `sid` (its form already shown), then follows the
 * job until it ends and joins its verdicts: the counts, and the lines worth reading (updated,
 * removed, rejected), numbered from the first input line. *sent gets the lines the daemon holds.
 */
static int run_import_job(struct opts *o, struct joiner *j, char *const *lines, size_t total,
                          size_t *sent, char *sid, struct arg *args, size_t nargs)
{
    int progress = isatty(STDERR_FILENO), rc = EXIT_OK;
    size_t from = 0, parts = 0;
    xmpp_stanza_t *reply = NULL, *cmd = NULL;
    const char *status = NULL;
    size_t counted[V_COUNT];

    memcpy(counted, j->counts, sizeof(counted)); /* the client's own (lines too long) */
    snprintf(die_hint, sizeof(die_hint),
             "nothing was imported: the lines were still being sent (run the same import "
             "again)");
    while (from < total || parts == 0) {
        size_t end = part_end(lines, total, from);
        reply = roundtrip(part_iq(o, sid, lines, from, end, end < total, args, nargs));
        parts++;
        if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
            rc = report_error(reply, o);
            xmpp_stanza_release(reply);
            return rc;
        }
        cmd = child(reply, "command", NS_COMMANDS);
        status = cmd ? xmpp_stanza_get_attribute(cmd, "status") : NULL;
        if (status == NULL)
            die("imdomaind answered without a command status");
        from = end;
        if (progress)
            fprintf(stderr, "\rusers/import: sent %zu of %zu lines ", from, total);
        if (from < total) {
            if (strcmp(status, "executing") != 0 || rejected(cmd, o)) {
                int failed = join_done(&j->sink, cmd, &(struct pages){0});
                xmpp_stanza_release(reply);
                return failed == EXIT_OK ? EXIT_FAILED : failed;
            }
            xmpp_stanza_release(reply);
        }
    }
    *sent = total;
    die_hint[0] = '\0';
    /* Follow the job: next refreshes until it completes with the verdicts (maybe in pages). */
    while (strcmp(status, "executing") == 0) {
        if (is_page(cmd)) {
            join_page(&j->sink, cmd);
        } else {
            xmpp_stanza_t *x = child(cmd, "x", NS_DATA);
            char *job = form_value_of(x, "job"), *done = form_value_of(x, "done");
            char *all = form_value_of(x, "total"), *state = form_value_of(x, "state");
            if (state && strcmp(state, "failed") == 0) {
                struct pages none = {0};
                if (progress)
                    fprintf(stderr, "\r\033[K");
                print_outcome(cmd, o, &none, NULL);
                fprintf(stderr,
                        "imdomainctl: import job %s failed: Retry or Cancel it in "
                        "jobs/status (run jobs/status job=%s)\n",
                        job ? job : "?", job ? job : "N");
                xmpp_free(ctx, job);
                xmpp_free(ctx, done);
                xmpp_free(ctx, all);
                xmpp_free(ctx, state);
                xmpp_stanza_release(reply);
                return EXIT_FAILED;
            }
            if (progress && done && all)
                fprintf(stderr, "\rusers/import: job %s: %s of %s lines applied ", job ? job : "?",
                        done, all);
            xmpp_free(ctx, job);
            xmpp_free(ctx, done);
            xmpp_free(ctx, all);
            xmpp_free(ctx, state);
            sleep_ms(FOLLOW_MS);
        }
        const char *sess = xmpp_stanza_get_attribute(cmd, "sessionid");
        xmpp_stanza_t *iq = command_iq(o, "users/import", sess, "next");
        xmpp_stanza_release(reply);
        reply = roundtrip(iq);
        if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
            rc = report_error(reply, o);
            xmpp_stanza_release(reply);
            return rc;
        }
        cmd = child(reply, "command", NS_COMMANDS);
        status = cmd ? xmpp_stanza_get_attribute(cmd, "status") : NULL;
        if (status == NULL)
            die("imdomaind answered without a command status");
    }
    rc = join_done(&j->sink, cmd, &(struct pages){0});
    /* The joined rows counted only the lines worth reading: the counts are the job's. */
    memcpy(j->counts, counted, sizeof(counted));
    job_counts(j, cmd);
    xmpp_stanza_release(reply);
    return rc;
}

/* users/import: every `users` value, in calls of at most IMPORT_CHUNK_* each; the verdicts are
 * joined, numbered from the first line of the input, and counted. */
static int run_import(struct opts *o, struct arg *args, size_t nargs)
{
    struct joiner j = {.sink = {join_done, join_page}, .o = o};
    char **lines = NULL;
    size_t total = 0, sent = 0;
    int rc = EXIT_OK, progress = isatty(STDERR_FILENO);

    for (size_t i = 0; i < nargs; i++) {
        if (strcmp(args[i].var, "users") != 0)
            continue;
        if ((lines = realloc(lines, (total + args[i].n + 1) * sizeof(char *))) == NULL)
            die("out of memory");
        memcpy(lines + total, args[i].values, args[i].n * sizeof(char *));
        total += args[i].n;
        args[i].used = 1;
    }
    /* A line the daemon would refuse the whole form for is rejected here, and an empty value
     * (a skipped line) sent in its place, so that the numbering holds. */
    for (size_t i = 0; i < total; i++) {
        if (strlen(lines[i]) > VALUE_MAX) {
            join_header(&j, NULL);
            join_row(&j, i + 1, "", "rejected", "the line is longer than 8192 bytes");
            lines[i] = "";
        }
    }
    char *audit_off = "0";
    struct arg *call = calloc(nargs + 2, sizeof(*call));
    if (call == NULL)
        die("out of memory");
    /* The form says above how many lines the daemon runs an import as a job: then the lines go
     * in parts to one session and the job is followed to its end. */
    xmpp_stanza_t *first = roundtrip(command_iq(o, "users/import", NULL, "execute"));
    xmpp_stanza_t *fcmd = child(first, "command", NS_COMMANDS);
    char *limit = fcmd ? form_value_of(child(fcmd, "x", NS_DATA), "job_lines") : NULL;
    const char *fsid = fcmd ? xmpp_stanza_get_attribute(fcmd, "sessionid") : NULL;
    int job_mode = limit && fsid && total > strtoul(limit, NULL, 10);
    if (job_mode) {
        char *sid = strdup(fsid);
        rc = run_import_job(o, &j, lines, total, &sent, sid, args, nargs);
        free(sid);
    } else if (fsid) {
        cancel_session(o, "users/import", fsid);
    }
    if (limit)
        xmpp_free(ctx, limit);
    xmpp_stanza_release(first);
    while (!job_mode && sent < total) {
        size_t end = chunk_end(lines, total, sent), n = 0;
        call[n++] = (struct arg){.var = "users", .values = lines + sent, .n = end - sent};
        /* The sync audit once, with the last part (or as asked, then). */
        if (end < total)
            call[n++] = (struct arg){.var = "audit", .values = &audit_off, .n = 1};
        for (size_t i = 0; i < nargs; i++)
            if (strcmp(args[i].var, "users") != 0 &&
                (end == total || strcmp(args[i].var, "audit") != 0))
                call[n++] =
                    (struct arg){.var = args[i].var, .values = args[i].values, .n = args[i].n};
        call[n] = (struct arg){0};
        j.offset = sent;
        snprintf(die_hint, sizeof(die_hint),
                 "the first %zu of %zu lines were imported, the rest not: run the same import "
                 "again (the imported lines come back unchanged)",
                 sent, total);
        rc = run_command(o, "users/import", call, n, &j.sink);
        if (rc != EXIT_OK)
            break;
        sent = end;
        if (progress)
            fprintf(stderr, "\rusers/import: %zu of %zu lines (%zu%%) ", sent, total,
                    total ? sent * 100 / total : 100);
    }
    for (size_t i = 0; i < nargs && sent > 0; i++)
        if (!args[i].used && !call_used(call, args[i].var))
            fprintf(stderr, "imdomainctl: warning: argument %s was not used\n", args[i].var);
    for (size_t i = 0; i < nargs; i++)
        args[i].used = 1; /* passed on to every call */
    die_hint[0] = '\0';
    if (progress)
        fprintf(stderr, "\r\033[K");
    if (rc == EXIT_OK && j.counts[V_REJECTED] > 0)
        rc = EXIT_REJECTED;
    if (rc == EXIT_OK || rc == EXIT_REJECTED || j.header)
        join_summary(&j, total, sent, rc);
    for (size_t i = 0; i < j.n_notes; i++)
        free(j.notes[i]);
    free(j.notes);
    free(call);
    free(lines);
    return rc;
}

static int has_arg(const struct arg *args, size_t nargs, const char *var)
{
    for (size_t i = 0; i < nargs; i++)
        if (strcmp(args[i].var, var) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"socket", required_argument, NULL, 's'},
        {"lang", required_argument, NULL, 'l'},
        {"action", required_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.socket = getenv("IMDOMAINCTL_SOCKET")};
    struct arg *args = NULL;
    size_t nargs = 0;
    int ch, rc;

    if (o.socket == NULL)
        o.socket = RUNSTATEDIR "/imdomaind/control.sock";
    while ((ch = getopt_long(argc, argv, "+s:l:a:o:t:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o.socket = optarg;
            break;
        case 'l':
            o.lang = optarg;
            break;
        case 'a':
            o.action = optarg;
            break;
        case 'o':
            o.output_path = optarg;
            break;
        case 'j':
            o.json = 1;
            break;
        case 't': {
            char *end;
            errno = 0;
            answer_timeout_s = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || answer_timeout_s < 0 ||
                answer_timeout_s > 86400) {
                fprintf(stderr, "imdomainctl: -t wants seconds from 0 (for ever) to 86400: %s\n",
                        optarg);
                return 1;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    argc -= optind;
    argv += optind;
    /* `imdomainctl status --json` reads as naturally as `imdomainctl --json status`. */
    if (argc == 2 && strcmp(argv[0], "status") == 0 &&
        (strcmp(argv[1], "--json") == 0 || strcmp(argv[1], "-j") == 0)) {
        o.json = 1;
        argc = 1;
    }
    if (argc < 1 ||
        (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "run") != 0 &&
         strcmp(argv[0], "status") != 0) ||
        (strcmp(argv[0], "run") == 0 && argc < 2) ||
        (strcmp(argv[0], "status") == 0 && argc != 1)) {
        usage(stderr);
        return strcmp(argv[0] ? argv[0] : "", "status") == 0 ? STATUS_EXIT_UNKNOWN : 1;
    }
    die_as_unknown = strcmp(argv[0], "status") == 0;
    if (o.action && strcmp(o.action, "next") && strcmp(o.action, "prev") &&
        strcmp(o.action, "complete") && strcmp(o.action, "cancel")) {
        fprintf(stderr, "imdomainctl: --action takes next, prev, complete or cancel\n");
        return 1;
    }
    if (strcmp(argv[0], "run") == 0)
        args = parse_args(argc - 2, argv + 2, &nargs);
    if (o.output_path) {
        o.output = strcmp(o.output_path, "-") == 0 ? stdout : fopen(o.output_path, "w");
        if (o.output == NULL)
            die("cannot write %s: %s", o.output_path, strerror(errno));
    }
    /* A closed connection shows as a failed write, not as death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    connect_socket(o.socket);
    if (strcmp(argv[0], "list") == 0)
        rc = cmd_list(&o);
    else if (die_as_unknown)
        rc = cmd_status(&o);
    else if (strcmp(argv[1], "users/import") == 0 && has_arg(args, nargs, "users"))
        rc = run_import(&o, args, nargs);
    else
        rc = run_command(&o, argv[1], args, nargs, NULL);
    if (o.action && !o.action_used && rc != EXIT_REFUSED && rc != EXIT_FORBIDDEN)
        fprintf(stderr,
                "imdomainctl: warning: action=%s was not used: no stage offered a "
                "choice\n",
                o.action);
    free_args(args, nargs);
    if (o.output && o.output != stdout && fclose(o.output) != 0) {
        fprintf(stderr, "imdomainctl: cannot write %s: %s\n", o.output_path, strerror(errno));
        rc = EXIT_FAILED;
    }
    close(sock);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return rc;
}
