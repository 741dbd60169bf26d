using System.Text.RegularExpressions;

namespace Harden.Integration.Tests;

/// <summary>
/// The controls compliance scanners check beyond the seed documents, in one apply, each proven with
/// the root's own tool: augenrules and ausyscall for every audit syscall, sshd -T, modprobe -n -v,
/// systemctl is-enabled, apt-config, useradd -D, perl -c, pamtester; then idempotence and rollback.
/// </summary>
public sealed class AuditorDepthTests : RootTest
{
    /// <summary>Every syscall the rules must audit, for both ABIs (stime exists only for 32-bit programs).</summary>
    private static readonly string[] Syscalls =
    [
        "adjtimex", "settimeofday", "clock_settime", "sethostname", "setdomainname",
        "chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown",
        "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
        "creat", "open", "openat", "open_by_handle_at", "truncate", "ftruncate", "mount",
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir",
        "init_module", "finit_module", "delete_module", "execve",
    ];

    private const string VendorHelper = "/opt/vendor/bin/helper";

    [Test]
    public async Task One_apply_converges_every_auditor_control_the_second_changes_nothing_and_rollback_restores_all()
    {
        var args = await WithOperatorAsync();
        // A vendor's setuid helper outside the distribution's folders: plan must find it.
        Directory.CreateDirectory(Root.Map("/opt/vendor/bin"));
        File.Copy(Root.Map("/usr/bin/true"), Root.Map(VendorHelper));
        File.SetUnixFileMode(Root.Map(VendorHelper), (UnixFileMode)Convert.ToInt32("4755", 8));
        var before = await EtcAsync();

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain($"-F path={VendorHelper} -F perm=x").And.Contain("-F path=/usr/bin/sudo -F perm=x"),
            "plan lists each setuid/setgid program it found");
        Assert.That(plan.Out, Does.Contain("mode:/etc/ssh/sshd_config").And.Contain("(mode 0644 -> 0600)"));
        Assert.That(plan.Out, Does.Contain("update-grub: skipped, runtime-only"));

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());

        // Audit: augenrules compiled them (the handler), each syscall exists for its ABI (ausyscall).
        var rules = Root.ReadText("/etc/audit/audit.rules").Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('-')).ToList();
        var audited = rules.SelectMany(r => Regex.Matches(r, @"-S (\w+)").Select(m => (Arch: Regex.Match(r, @"arch=(b\d\d)").Groups[1].Value, Name: m.Groups[1].Value)))
            .ToHashSet();
        Assert.Multiple(async () =>
        {
            foreach (var name in Syscalls)
            {
                Assert.That(audited, Does.Contain(("b64", name)), $"b64 {name}");
                Assert.That(audited, Does.Contain(("b32", name)), $"b32 {name}");
            }
            Assert.That(audited, Does.Contain(("b32", "stime")));
            foreach (var (arch, name) in audited)
            {
                var known = await Root.Chroot("ausyscall", arch == "b64" ? "x86_64" : "i386", name, "--exact");
                Assert.That(known.ExitCode, Is.Zero, $"ausyscall {arch} {name}: {known.StandardError}");
            }
            Assert.That(rules, Does.Contain("-b 8192").And.Contain("-f 1"));
            Assert.That(rules, Has.Some.EqualTo($"-a always,exit -F path={VendorHelper} -F perm=x -F auid>=1000 -F auid!=unset -k privileged"));
            Assert.That(rules, Has.Some.StartsWith("-w /etc/security/opasswd -p wa").And.Some.StartsWith("-w /run/faillock -p wa"));
        });

        // sshd: the new settings are effective, and the main file carries them first, before its Include.
        var sshd = await Root.EffectiveSshdAsync();
        var main = Root.ReadText("/etc/ssh/sshd_config");
        Assert.Multiple(async () =>
        {
            Assert.That(sshd["maxsessions"], Is.EqualTo("4"));
            Assert.That(sshd["maxstartups"], Is.EqualTo("10:30:60"));
            Assert.That(sshd["logingracetime"], Is.EqualTo("60"));
            Assert.That(sshd["rekeylimit"], Is.EqualTo("536870912 3600"));
            foreach (var off in new[] { "allowtcpforwarding", "allowagentforwarding", "permittunnel", "gatewayports", "gssapiauthentication", "kerberosauthentication" })
                Assert.That(sshd[off], Is.EqualTo("no"), off);
            Assert.That(sshd["strictmodes"], Is.EqualTo("yes"));
            Assert.That(sshd["ignoreuserknownhosts"], Is.EqualTo("yes"));
            Assert.That(main.IndexOf("MaxSessions 4", StringComparison.Ordinal), Is.GreaterThanOrEqualTo(0).And.LessThan(main.IndexOf("\nInclude ", StringComparison.Ordinal)));
            Assert.That(Mode("/etc/ssh/sshd_config"), Is.EqualTo("600"));
            Assert.That(Mode("/etc/ssh/ssh_host_ed25519_key"), Is.EqualTo("600"));

            // Kernel modules: modprobe itself says it would run /bin/false instead of loading.
            foreach (var module in new[] { "usb-storage", "dccp", "cramfs" })
            {
                var dry = await Root.Chroot("modprobe", "-n", "-v", module);
                Assert.That(dry.StandardOutput + dry.StandardError, Does.Contain("install /bin/false"), module);
            }
            // The root's own sysctl parses every line: with no /proc in the chroot it can only say, for
            // each key, which file it would write (the live VM tests check the values in a real kernel).
            var settings = Root.ReadText("/etc/sysctl.d/zz-hipaa.conf").Split('\n').Where(l => l.Contains(" = ")).Select(l => l.Split(" = ")[0]).ToList();
            Assert.That(settings, Has.Count.GreaterThan(30));
            var parsed = await Root.Chroot("sysctl", "-p", "/etc/sysctl.d/zz-hipaa.conf");
            Assert.That(parsed.StandardError.Trim().Split('\n'), Is.EqualTo(settings.Select(k => $"sysctl: cannot stat /proc/sys/{k.Replace('.', '/')}: No such file or directory")));

            Assert.That((await Root.Chroot("systemctl", "is-enabled", "ctrl-alt-del.target")).StandardOutput.Trim(), Is.EqualTo("masked"));
            Assert.That((await Root.Chroot("systemctl", "is-enabled", "debug-shell.service")).StandardOutput.Trim(), Is.EqualTo("masked"));
            Assert.That((await Root.Chroot("systemctl", "is-enabled", "apparmor.service")).StandardOutput.Trim(), Is.EqualTo("enabled"));
            var journald = await Root.Chroot("systemd-analyze", "cat-config", "systemd/journald.conf");
            Assert.That(journald.StandardOutput, Does.Contain("Storage=persistent").And.Contain("ForwardToSyslog=yes"));

            var apt = (await Root.Chroot("apt-config", "dump")).StandardOutput;
            Assert.That(apt, Does.Contain("APT::Periodic::Unattended-Upgrade \"1\";").And.Contain("Unattended-Upgrade::Automatic-Reboot \"false\";"));
            var needrestart = await Root.Chroot("perl", "-c", "/etc/needrestart/conf.d/60-hipaa.conf");
            Assert.That(needrestart.StandardError, Does.Contain("syntax OK"));

            Assert.That((await Root.Chroot("useradd", "-D")).StandardOutput, Does.Contain("INACTIVE=30"));
            Assert.That(Root.ReadText("/etc/login.defs"), Does.Match(@"\nUMASK\s+027\n").And.Match(@"\nENCRYPT_METHOD\s+YESCRYPT\n"));
            Assert.That(Root.ReadText("/etc/issue") + Root.ReadText("/etc/motd"), Does.Not.Contain("Debian").And.Contain("AUTHORIZED ACCESS ONLY"));
            Assert.That(Root.ReadText("/etc/pam.d/common-password"), Does.Match(@"pam_pwhistory\.so remember=5 enforce_for_root"));
            Assert.That(Mode("/etc/cron.allow"), Is.EqualTo("640"));
            Assert.That(Mode("/etc/crontab"), Is.EqualTo("600"));
            Assert.That(Mode("/home/alice"), Is.EqualTo("750"), "a person's home is closed to other users");
            // debsums (package-integrity) checks installed files against the packages' checksums.
            var debsums = await Root.Chroot("debsums", "-s", "openssh-server", "sudo");
            Assert.That(debsums.ExitCode, Is.Zero, debsums.StandardError);
        });

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, "the second plan has nothing to do\n" + again);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        AssertUnchanged(before, await EtcAsync());
        Assert.That(Mode("/etc/ssh/sshd_config"), Is.EqualTo("644"));
        Assert.That(Mode("/home/alice"), Is.EqualTo("755"));
    }

    /// <summary>What harden reports rather than decides: accounts an auditor asks about, apt sources that skip signatures.</summary>
    [Test]
    public async Task Accounts_and_apt_sources_an_auditor_asks_about_are_named_and_empty_passwords_locked_on_request()
    {
        var args = await WithOperatorAsync();
        await Root.AddUserAsync("carol", withKey: false);
        Assert.That((await Root.Chroot("passwd", "-d", "carol")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("useradd", "-o", "-u", "0", "-M", "-s", "/bin/bash", "toor")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("useradd", "-r", "-M", "-s", "/bin/bash", "legacy")).ExitCode, Is.Zero);
        await File.WriteAllTextAsync(Root.Map("/etc/apt/sources.list.d/vendor.list"), "deb [arch=amd64 trusted=yes] http://vendor.example/ stable main\n");
        await File.WriteAllTextAsync(Root.Map("/etc/apt/apt.conf.d/99insecure"), "// a vendor's install script\nAcquire::AllowInsecureRepositories \"true\";\n");

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain("account carol has an empty password")
            .And.Contain("account toor has UID 0")
            .And.Contain("system account legacy (UID ")
            .And.Contain("/etc/apt/sources.list.d/vendor.list:1 marks a source trusted")
            .And.Contain("/etc/apt/apt.conf.d/99insecure:2 lets apt accept unsigned or insecure repositories"));
        Assert.That(plan.Out, Does.Not.Contain("password-lock:carol"), "reported, not locked, unless asked");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", "--set", "lock_empty_password_accounts=true", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(await PasswordStatus("carol"), Is.EqualTo("L"), "locked by usermod -L");
        Assert.That((await Root.ChrootWithInput("\n", "pamtester", "login", "carol", "authenticate")).ExitCode, Is.Not.Zero);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(await PasswordStatus("carol"), Is.EqualTo("NP"), "no password again, as before the run");
    }

    /// <summary>AIDE (opt-in): its database is built at apply, and its own check then finds a changed application file.</summary>
    [Test]
    public async Task Aide_builds_its_database_and_finds_a_changed_application_file()
    {
        var args = await WithOperatorAsync("--set", "aide=true");
        Directory.CreateDirectory(Root.Map("/opt/healthcare-app"));
        await File.WriteAllTextAsync(Root.Map("/opt/healthcare-app/settings.ini"), "db=local\n");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("aideinit"));
        var config = await Root.Chroot("aide", "--config-check", "--config", "/etc/aide/aide.conf");
        Assert.That(config.ExitCode, Is.Zero, config.StandardOutput + config.StandardError);
        Assert.That(File.Exists(Root.Map("/var/lib/aide/aide.db")), "the database exists");
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "dailyaidecheck.timer")).StandardOutput.Trim(), Is.EqualTo("enabled"));

        var clean = await Root.Chroot("aide", "--check", "--config", "/etc/aide/aide.conf");
        Assert.That(clean.StandardOutput, Does.Not.Contain("/opt/healthcare-app/settings.ini"), clean.StandardOutput);
        await File.WriteAllTextAsync(Root.Map("/opt/healthcare-app/settings.ini"), "db=remote\n");
        var changed = await Root.Chroot("aide", "--check", "--config", "/etc/aide/aide.conf");
        Assert.That(changed.ExitCode, Is.Not.Zero, "aide --check reports a difference");
        Assert.That(changed.StandardOutput, Does.Contain("/opt/healthcare-app/settings.ini"));

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(File.Exists(Root.Map("/var/lib/aide/aide.db")), Is.False, "the database the run built is gone");
    }

    /// <summary>
    /// ClamAV (opt-in): the scan unit passes systemd-analyze verify, and its own command line, run in
    /// the root, names a PHI file a signature matches and leaves it where it was. The signature is a
    /// one-line MD5 database written by the test (no download: the root has no network).
    /// </summary>
    [Test]
    public async Task Clamav_scan_names_an_infected_phi_file_and_moves_nothing()
    {
        var args = await WithOperatorAsync("--set", "clamav=true", "--set", "clamav_scan_time=04:15");
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("checking /etc/systemd/system/hipaa-clamscan.service (systemd)"));
        string[] units = ["/etc/systemd/system/hipaa-clamscan.service", "/etc/systemd/system/hipaa-clamscan.timer"];
        var verify = await Root.Chroot(["systemd-analyze", "verify", .. units]);
        Assert.That(verify.ExitCode, Is.Zero, verify.StandardOutput + verify.StandardError);
        foreach (var unit in (string[])["hipaa-clamscan.timer", "clamav-freshclam.service"])
            Assert.That((await Root.Chroot("systemctl", "is-enabled", unit)).StandardOutput.Trim(), Is.EqualTo("enabled"), unit);
        Assert.That(Root.ReadText(units[1]), Does.Contain("OnCalendar=*-*-* 04:15"));

        var payload = "X5O-harden-test-not-a-virus\n"u8.ToArray();
        await File.WriteAllBytesAsync(Root.Map("/var/data/phi/scan-me.bin"), payload);
        await File.WriteAllTextAsync(Root.Map("/var/data/phi/clean.txt"), "patient 2\n");
        var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(payload));
        await File.WriteAllTextAsync(Root.Map("/var/lib/clamav/harden-test.hdb"), $"{md5}:{payload.Length}:Harden.Test.Signature\n");
        var exec = Regex.Match(Root.ReadText(units[0]), "(?m)^ExecStart=(.+)$").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var scan = await Root.Chroot(exec);
        Assert.That(scan.ExitCode, Is.EqualTo(1), "clamscan exits 1 when it found something\n" + scan.StandardOutput + scan.StandardError);
        Assert.That(scan.StandardOutput, Does.Contain("/var/data/phi/scan-me.bin: Harden.Test.Signature.UNOFFICIAL FOUND"));
        Assert.That(scan.StandardOutput, Does.Not.Contain("clean.txt"), "--infected names only what it found");
        Assert.That(File.Exists(Root.Map("/var/data/phi/scan-me.bin")), "nothing is moved or deleted");
        File.Delete(Root.Map("/var/lib/clamav/harden-test.hdb"));

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, "second plan: nothing to do\n" + again);
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(units.Where(u => File.Exists(Root.Map(u))), Is.Empty, "rollback removes the units");
    }

    /// <summary>A profile in complain mode (by flag or by a force-complain link) confines nothing: plan names it with the fix.</summary>
    [Test]
    public async Task Plan_names_apparmor_profiles_in_complain_mode()
    {
        var args = await WithOperatorAsync();
        var clean = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(clean.Out, Does.Not.Contain("complain mode"), "the distribution's profiles enforce");
        var chronyd = Root.Map("/etc/apparmor.d/usr.sbin.chronyd");
        await File.WriteAllTextAsync(chronyd, Root.ReadText("/etc/apparmor.d/usr.sbin.chronyd").Replace("flags=(attach_disconnected)", "flags=(attach_disconnected, complain)"));
        var parse = await Root.Chroot("apparmor_parser", "--skip-kernel-load", "--debug", "/etc/apparmor.d/usr.sbin.chronyd");
        Assert.That(parse.StandardOutput + parse.StandardError, Does.Match("(?mi)^\\s*(profile\\s+)?mode:\\s*complain\\s*$"), "apparmor_parser reads it as complain mode\n" + parse.StandardOutput + parse.StandardError);
        File.CreateSymbolicLink(Root.Map("/etc/apparmor.d/force-complain/lsb_release"), "/etc/apparmor.d/lsb_release");

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain("module apparmor: /etc/apparmor.d/usr.sbin.chronyd is in complain mode (it logs and refuses nothing) for /usr/sbin/chronyd; enforce it with 'aa-enforce /etc/apparmor.d/usr.sbin.chronyd'")
            .And.Contain("module apparmor: /etc/apparmor.d/lsb_release is forced into complain mode by /etc/apparmor.d/force-complain/lsb_release"));
        Assert.That(plan.Out, Does.Not.Contain("nvidia_modprobe is"), "an enforcing profile is not named");
    }

    private async Task<string> PasswordStatus(string user) =>
        (await Root.Chroot("passwd", "-S", user)).StandardOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];

    /// <summary>pam_pwhistory refuses a reused password (root's change too), and su is for the su group only.</summary>
    [Test]
    public async Task A_reused_password_is_refused_and_su_needs_the_su_group()
    {
        var args = await WithOperatorAsync();
        await Root.AddUserAsync("bob", withKey: false);
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());

        async Task<int> Change(string password) =>
            (await Root.ChrootWithInput($"{password}\n{password}\n", "pamtester", "passwd", "bob", "chauthtok")).ExitCode;
        Assert.That(await Change("First-Horse-42-battery"), Is.Zero);
        Assert.That(await Change("Second-Staple-17-anvil"), Is.Zero);
        Assert.That(await Change("First-Horse-42-battery"), Is.Not.Zero, "a password of the last five is refused");
        Assert.That(Root.ReadText("/etc/security/opasswd"), Does.StartWith("bob:"));

        async Task<int> Su() => (await Root.ChrootAs("bob", "Second-Staple-17-anvil\n", "pamtester", "su", "bob", "authenticate")).ExitCode;
        Assert.That(await Su(), Is.Not.Zero, "bob is not in sugroup: su refuses even the right password");
        Assert.That((await Root.Chroot("gpasswd", "-a", "bob", "sugroup")).ExitCode, Is.Zero);
        Assert.That(await Su(), Is.Zero, "in sugroup, the right password is enough");
    }

    private string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(Root.Map(path)), 8);
}
