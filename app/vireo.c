/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vireo: the desktop application. */
#include "ui/gtk/vireo-application.h"

#include <signal.h>

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    vireo_application_init_i18n();
    g_autoptr(VireoApplication) app = vireo_application_new(NULL);
    return g_application_run(G_APPLICATION(app), argc, argv);
}
