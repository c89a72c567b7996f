/* cmd_service.c - cairn service install | remove: the systemd unit that runs
 * 'cairn daemon' (a user unit, or a system one), enabled with systemctl when
 * it is there; then how to start, stop and read the log is printed. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "target_common.h"

static const char UNIT_NAME[] = "cairn.service";

static cairn_err unit_dir(const cli *c, char *out, size_t cap)
{
    const char *const xdg = getenv("XDG_CONFIG_HOME");
    const char *const home = getenv("HOME");
    if (c->unit_dir)
        snprintf(out, cap, "%s", c->unit_dir);
    else if (c->unit_system)
        snprintf(out, cap, "/etc/systemd/system");
    else if (xdg && *xdg)
        snprintf(out, cap, "%s/systemd/user", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.config/systemd/user", home);
    else
        return err_set(CAIRN_EINVAL, "no folder for a user unit (set HOME or use --unit-dir)");
    return CAIRN_OK;
}

/* systemctl [--user] ARGS..., when systemctl is installed and the unit went
 * to its own folder (--unit-dir is for tests and packagers: nothing run). */
static int systemctl(const cli *c, const char *a1, const char *a2, const char *a3)
{
    if (c->unit_dir)
        return -1;
    const char *argv[6];
    int n = 0;
    argv[n++] = "systemctl";
    if (!c->unit_system)
        argv[n++] = "--user";
    argv[n++] = a1;
    if (a2)
        argv[n++] = a2;
    if (a3)
        argv[n++] = a3;
    argv[n] = NULL;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp("systemctl", (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int install(cli *c, const char *dir)
{
    char self[PATH_MAX], pwfile[PATH_MAX] = "", policy[PATH_MAX] = "";
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        snprintf(self, sizeof self, "/usr/bin/cairn");
    else
        self[n] = '\0';
    /* as for every other command, a password file that is not there is a usage
     * error (exit 2), not "not found" (12: a missing snapshot to scripts) */
    if (c->password_file && !realpath(c->password_file, pwfile))
        return cli_fail(err_set(CAIRN_EINVAL, "%s: cannot read the password file: %s",
                                c->password_file, strerror(errno)));
    if (c->policy && !realpath(c->policy, policy))
        return cli_fail(err_set(CAIRN_EINVAL, "%s: cannot read the policy file: %s", c->policy,
                                strerror(errno)));
    cbuf u;
    cbuf_init(&u);
    cbuf_printf(&u, "# written by 'cairn service install'; 'cairn service remove' removes it\n"
                    "[Unit]\n"
                    "Description=cairn: back up iPhones and iPads when they appear\n"
                    "Documentation=man:cairn(1)\n"
                    "After=usbmuxd.service network-online.target\n"
                    "\n"
                    "[Service]\n"
                    "Type=simple\n");
    if (*pwfile)
        /* the password file reaches the daemon as a credential: readable by it only */
        cbuf_printf(&u, "LoadCredential=cairn-store-password:%s\n", pwfile);
    cbuf_printf(&u, "ExecStart=%s --store %s%s daemon%s%s\n", self, c->store_path,
                *pwfile ? " --password-file ${CREDENTIALS_DIRECTORY}/cairn-store-password" : "",
                *policy ? " --policy " : "", policy);
    cbuf_printf(&u,
                "Restart=on-failure\n"
                "RestartSec=60\n"
                "KillSignal=SIGTERM\n"
                "TimeoutStopSec=10min\n"
                "\n"
                "[Install]\n"
                "WantedBy=%s\n",
                c->unit_system ? "multi-user.target" : "default.target");
    cairn_err rc = u.failed ? err_set(CAIRN_ENOMEM, "out of memory") : fs_mkdirs(dir, 0755);
    if (!rc)
        rc = fs_write_atomic(dir, UNIT_NAME, u.data, u.len, 0644);
    cbuf_free(&u);
    if (rc)
        return cli_fail(rc);
    const char *const user = c->unit_system ? "" : " --user";
    printf("wrote %s/%s\n", dir, UNIT_NAME);
    const int reload = systemctl(c, "daemon-reload", NULL, NULL);
    const int enabled = reload == 0 ? systemctl(c, "enable", UNIT_NAME, NULL) : -1;
    if (enabled == 0)
        printf("enabled it: it starts at %s\n", c->unit_system ? "boot" : "login");
    else
        printf("not enabled (%s): enable it with: systemctl%s enable %s\n",
               c->unit_dir ? "--unit-dir" : "systemctl is missing or failed", user, UNIT_NAME);
    printf("start it:     systemctl%s start cairn\n"
           "stop it:      systemctl%s stop cairn\n"
           "its log:      journalctl%s -u cairn -f\n"
           "its policy:   cairn policy show\n",
           user, user, user);
    if (!*pwfile)
        printf("the store password: name store-password-file in [default] of the policy (a "
               "file, or credential:NAME with LoadCredential=NAME:FILE in the unit)\n");
    return EXIT_OK;
}

static int remove_unit(cli *c, const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, UNIT_NAME);
    struct stat st;
    if (stat(path, &st) != 0)
        return cli_fail(err_set(CAIRN_ENOTFOUND, "%s: no such unit (nothing to remove)", path));
    systemctl(c, "disable", "--now", UNIT_NAME);
    if (unlink(path) != 0)
        return cli_fail(err_errno(errno, path));
    systemctl(c, "daemon-reload", NULL, NULL);
    printf("removed %s\n", path);
    return EXIT_OK;
}

int cmd_service(cli *c)
{
    char dir[PATH_MAX];
    const int inst = c->nargs == 1 && strcmp(c->args[0], "install") == 0;
    const int rem = c->nargs == 1 && strcmp(c->args[0], "remove") == 0;
    if ((!inst && !rem) || (c->unit_user && c->unit_system))
        return cli_usage_error(&cli_cmd_service);
    cairn_err rc = unit_dir(c, dir, sizeof dir);
    if (!rc && inst)
        rc = cli_local_store(c);
    if (rc)
        return cli_fail(rc);
    return inst ? install(c, dir) : remove_unit(c, dir);
}

static const cli_option service_options[] = {
    {.name = "user",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, unit_user),
     .help = "a user unit, running while you are logged in (the default)"},
    {.name = "system",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, unit_system),
     .help = "a system unit in /etc/systemd/system (as root)"},
    {.name = "unit-dir",
     .kind = OPT_STRING,
     .offset = offsetof(cli, unit_dir),
     .arg_name = "DIR",
     .help = "write the unit here instead, and run no systemctl (packaging, tests)"},
    CLI_OPT_POLICY(0),
    CLI_OPT_END,
};

static const char *const service_synopsis[] = {
    "install [--user|--system] [--unit-dir DIR] [--policy FILE]",
    "remove [--user|--system] [--unit-dir DIR]",
    NULL,
};

const cli_command cli_cmd_service = {
    .name = "service",
    .summary = "install or remove the systemd unit that runs 'cairn daemon'",
    .synopsis = service_synopsis,
    .options = service_options,
    .run = cmd_service,
};
