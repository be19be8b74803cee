/* The order here is the order of the command list clients show. */
#include "component/cmd/commands.h"

int commands_register(struct app *app)
{
    int (*const groups[])(struct app *) = {
        cmd_domains_register, cmd_default_register,  cmd_sync_register,
        cmd_users_register,   cmd_users_export_register, cmd_settings_register,
        cmd_certs_register,   cmd_federation_register,
        cmd_topology_register, cmd_ha_register, cmd_services_register, cmd_sessions_register,
        cmd_procedure_register, cmd_peers_register, cmd_status_register,
        cmd_directory_register,
    };

    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (groups[i](app) < 0)
            return -1;
    return 0;
}
