/* Placeholder until the commands land. */
#include "component/commands.h"

int cmd_default_register(struct app *app)
{
    (void)app;
    return 0;
}
