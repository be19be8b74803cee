/* Placeholder until the commands land. */
#include "component/commands.h"

int cmd_settings_register(struct app *app)
{
    (void)app;
    return 0;
}
