/* imdomaind: command line, configuration, and the daemon's lifecycle (start, signals, clean
 * stop). The wiring of the layers lives in component/daemon/daemon.c. */

#include "component/config.h"
#include "component/daemon/daemon.h"
#include "util/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG_FILE SYSCONFDIR "/imdomaind.conf"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: imdomaind [-nv] [-f file]\n"
            "  -f file     configuration file (default " DEFAULT_CONFIG_FILE ")\n"
            "  -n          check the configuration and exit\n"
            "  -v          verbose: log debug messages\n"
            "  --help      show this help\n"
            "  --version   show the version\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int check_only = 0, verbose = 0, ch;
    struct config cfg;

    while ((ch = getopt_long(argc, argv, "f:nvhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            path = optarg;
            break;
        case 'n':
            check_only = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("imdomaind %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 1;
    }
    log_init("imdomaind", LOG_LEVEL_INFO, 0);
    config_defaults(&cfg);
    int problems = 0;
    char *warning;
    if (path == NULL && access(DEFAULT_CONFIG_FILE, F_OK) == 0)
        path = DEFAULT_CONFIG_FILE;
    if (path != NULL)
        problems += config_load(&cfg, path, stderr);
    problems += config_finish(&cfg, path ? path : "(built-in defaults)", stderr);
    warning = problems == 0 ? config_warnings(&cfg) : NULL;
    if (check_only) {
        if (warning != NULL)
            printf("warning: %s\n", warning);
        free(warning);
        if (problems == 0) {
            printf("configuration OK\n");
            printf("instances: one serving instance per component JID (%s): active/standby, "
                   "not load-balancing. A second imdomaind with the same jid and secret (its "
                   "own store) is a standby: it stands by while another serves, re-checks "
                   "with backoff up to reconnect_max (%d s) and takes over within that time "
                   "once the active one is gone.\n",
                   cfg.jid ? cfg.jid : "-", cfg.reconnect_max);
            if (cfg.router_kind == CONFIG_ROUTER_EJABBERD)
                printf("router: ejabberd: vhosts_file %s is a YAML `hosts` list for "
                       "include_config_file in ejabberd.yml; reload_hook %s (e.g. "
                       "/usr/sbin/ejabberdctl reload_config)\n",
                       cfg.vhosts_file ? cfg.vhosts_file : "(unset: not written)",
                       cfg.reload_hook ? cfg.reload_hook : "(unset)");
            else
                printf("router: prosody: vhosts_file %s holds VirtualHost lines to Include "
                       "from prosody.cfg.lua; reload_hook %s (e.g. /usr/bin/prosodyctl "
                       "reload)\n",
                       cfg.vhosts_file ? cfg.vhosts_file : "(unset: not written)",
                       cfg.reload_hook ? cfg.reload_hook : "(unset)");
        }
        config_free(&cfg);
        return problems ? 1 : 0;
    }
    if (problems) {
        fprintf(stderr, "imdomaind: %d configuration problem%s; not starting\n", problems,
                problems == 1 ? "" : "s");
        config_free(&cfg);
        return 1;
    }
    log_init("imdomaind", verbose ? LOG_LEVEL_DEBUG : (enum log_level)cfg.log_level,
             cfg.log_syslog);
    if (warning != NULL)
        log_warnx("config: %s", warning);
    free(warning);
    int rc = daemon_run(&cfg);
    config_free(&cfg);
    return rc;
}
