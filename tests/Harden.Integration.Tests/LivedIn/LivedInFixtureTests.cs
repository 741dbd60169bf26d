namespace Harden.Integration.Tests;

/// <summary>
/// Proves the lived-in fixture is what it claims, with the root's own apt, shadow tools, cron, sudo
/// and sshd: tests of harden on a lived-in host are only as good as these facts.
/// </summary>
[TestFixture]
public sealed class LivedInFixtureTests : LivedInTest
{
    [Test]
    public async Task A_served_root_updates_and_installs_chrony_from_the_folder_which_removes_systemd_timesyncd()
    {
        Assert.That(await InstalledAsync("systemd-timesyncd"), Is.True, "the lived-in root keeps time with systemd-timesyncd");
        Assert.That(await InstalledAsync("chrony"), Is.False);
        await LocalAptRepository.ServeAsync(Root);
        Assert.That(LocalAptRepository.IndexFiles(Root), Is.Empty, "a served root starts without apt lists");
        Assert.That(File.ReadAllText(Root.Map("/etc/apt/sources.list")), Is.EqualTo(LocalAptRepository.SourceLine + "\n"));
        Assert.That(Directory.EnumerateFileSystemEntries(Root.Map("/etc/apt/sources.list.d")), Is.Empty);

        // Without lists apt has no candidate: it knows chrony only as a name installed packages refer to.
        var before = await LocalAptRepository.AptGetAsync(Root, "install", "-y", "--no-install-recommends", "chrony");
        Assert.That(before.ExitCode, Is.EqualTo(100), before.StandardOutput);
        Assert.That(before.StandardError, Does.Contain("E: Package 'chrony' has no installation candidate"));

        var update = await LocalAptRepository.AptGetAsync(Root, "update");
        Assert.That(update.ExitCode, Is.Zero, update.StandardError);
        Assert.That(update.StandardError, Does.Not.Contain("W:").And.Not.Contain("E:"), "the flat repository with its Release file updates cleanly");
        Assert.That(LocalAptRepository.IndexFiles(Root), Does.Contain("_srv_harden-repo_._Packages"));

        var install = await LocalAptRepository.AptGetAsync(Root, "install", "-y", "--no-install-recommends", "chrony");
        var output = install.StandardOutput + install.StandardError;
        Assert.That(install.ExitCode, Is.Zero, output);
        Assert.That(install.StandardOutput, Does.Contain("The following packages will be REMOVED:\n  systemd-timesyncd\n"));
        Assert.That(install.StandardOutput, Does.Contain("Removing systemd-timesyncd"));
        // Every package came from the folder: nothing was fetched over a network.
        var gets = install.StandardOutput.Split('\n').Where(l => l.StartsWith("Get:", StringComparison.Ordinal)).ToArray();
        Assert.That(gets, Is.Not.Empty.And.All.Contain("file:/srv/harden-repo"));
        // policy-rc.d was in place (chrony's postinst wanted to start it) and is gone again.
        Assert.That(install.StandardError, Does.Contain("policy-rc.d denied execution of start"));
        Assert.That(File.Exists(Root.Map(LocalAptRepository.PolicyRcD)), Is.False);
        Assert.That(await InstalledAsync("chrony"), Is.True);
        Assert.That(await StatusAsync("systemd-timesyncd"), Is.EqualTo("deinstall ok config-files"),
            "apt removes systemd-timesyncd but keeps its conffiles");
    }

    [Test]
    public async Task A_root_whose_mirror_does_not_resolve_can_install_nothing()
    {
        LocalAptRepository.PointAtUnreachableMirror(Root);
        Assert.That(File.ReadAllText(Root.Map("/etc/apt/sources.list")), Is.EqualTo(LocalAptRepository.UnreachableSourceLine + "\n"));
        Assert.That(LocalAptRepository.IndexFiles(Root), Is.Empty);

        // apt-get update only warns about a source it cannot reach, and exits 0.
        var update = await LocalAptRepository.AptGetAsync(Root, "update");
        Assert.That(update.ExitCode, Is.Zero, update.StandardOutput + update.StandardError);
        // The root's resolver is 127.0.0.1, where nothing answers: the lookup never leaves loopback.
        Assert.That(update.StandardOutput, Does.Contain("Temporary failure resolving 'mirror.invalid'"));
        Assert.That(update.StandardError, Does.Contain("W: Failed to fetch http://mirror.invalid/debian/dists/bookworm/InRelease"));
        Assert.That(update.StandardError, Does.Contain("W: Some index files failed to download."));
        Assert.That(LocalAptRepository.IndexFiles(Root), Is.Empty);

        // apt's message depends on whether an installed package names the missing one (chrony: systemd
        // refers to it) or nothing does (auditd); either way it exits 100 before dpkg changes anything.
        var chrony = await LocalAptRepository.AptGetAsync(Root, "install", "-y", "--no-install-recommends", "chrony");
        Assert.That(chrony.ExitCode, Is.EqualTo(100), chrony.StandardOutput + chrony.StandardError);
        Assert.That(chrony.StandardOutput, Does.Contain("Package chrony is not available, but is referred to by another package."));
        Assert.That(chrony.StandardError, Does.Contain("E: Package 'chrony' has no installation candidate"));
        var auditd = await LocalAptRepository.AptGetAsync(Root, "install", "-y", "--no-install-recommends", "auditd");
        Assert.That(auditd.ExitCode, Is.EqualTo(100), auditd.StandardOutput + auditd.StandardError);
        Assert.That(auditd.StandardError, Does.Contain("E: Unable to locate package auditd"));
        Assert.That(await InstalledAsync("systemd-timesyncd"), Is.True, "nothing was removed");
    }

    [Test]
    public async Task The_accounts_have_lived()
    {
        var shadow = Table("/etc/shadow");
        var passwd = Table("/etc/passwd");
        using (Assert.EnterMultipleScope())
        {
            AssertAged(shadow, LivedInAccounts.Alice, LivedInAccounts.AlicePasswordAgeDays, "99999");
            AssertAged(shadow, LivedInAccounts.Carol, LivedInAccounts.CarolPasswordAgeDays, "99999");
            AssertAged(shadow, LivedInAccounts.Dave, LivedInAccounts.DavePasswordAgeDays, "99999");
            AssertAged(shadow, LivedInAccounts.Erin, LivedInAccounts.ErinPasswordAgeDays, "90");
            AssertAged(shadow, LivedInAccounts.Deploy, LivedInAccounts.DeployPasswordAgeDays, "99999");
            AssertAged(shadow, LivedInAccounts.Backup, LivedInAccounts.BackupPasswordAgeDays, "99999");
            foreach (var person in new[] { LivedInAccounts.Alice, LivedInAccounts.Carol, LivedInAccounts.Erin })
                Assert.That(shadow[person][1], Does.StartWith("$y$"), $"{person} has a real (yescrypt) password");
            Assert.That(shadow[LivedInAccounts.Dave][1], Is.EqualTo("*"));
            Assert.That(shadow[LivedInAccounts.Deploy][1], Is.EqualTo("!"));
            Assert.That(shadow[LivedInAccounts.Backup][1], Is.EqualTo("*"));

            foreach (var account in (string[])[.. LivedInAccounts.People, LivedInAccounts.Deploy])
                Assert.That(int.Parse(passwd[account][2], System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(1000), account);
            Assert.That(int.Parse(passwd[LivedInAccounts.Backup][2], System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(1000));
            foreach (var account in (string[])[.. LivedInAccounts.People, .. LivedInAccounts.Automation])
                Assert.That(passwd[account][6], Is.EqualTo("/bin/bash"), account);
            Assert.That(Table("/etc/group").ContainsKey("phi-access"), Is.False);
            Assert.That(Table("/etc/group")["sudo"][3].Split(','), Is.EqualTo(new[] { LivedInAccounts.Alice }));
        }

        // The root's own chage says erin's password is past its maximum and carol's never expires.
        var erin = await Root.Chroot("chage", "-l", LivedInAccounts.Erin);
        Assert.That(erin.StandardOutput, Does.Match(@"Maximum number of days between password change\s*:\s*90"));
        var expiredOn = LivedInAccounts.DaysAgo(LivedInAccounts.ErinPasswordAgeDays - LivedInAccounts.ErinMaximumDays);
        Assert.That(erin.StandardOutput, Does.Match(@"Password expires\s*:\s*" + expiredOn.ToString("MMM dd, yyyy", System.Globalization.CultureInfo.InvariantCulture)));
        var carol = await Root.Chroot("chage", "-l", LivedInAccounts.Carol);
        Assert.That(carol.StandardOutput, Does.Match(@"Password expires\s*:\s*never"));

        var crontab = await Root.Chroot("crontab", "-l", "-u", LivedInAccounts.Deploy);
        Assert.That(crontab.StandardOutput, Does.Contain(LivedInAccounts.DeployCrontabLine), crontab.StandardError);
        crontab = await Root.Chroot("crontab", "-l", "-u", LivedInAccounts.Backup);
        Assert.That(crontab.StandardOutput, Does.Contain(LivedInAccounts.BackupCrontabLine), crontab.StandardError);

        var visudo = await Root.Chroot("visudo", "-c");
        Assert.That(visudo.ExitCode, Is.Zero, visudo.StandardOutput + visudo.StandardError);
        Assert.That(Root.ReadText(LivedInAccounts.DeploySudoersPath), Is.EqualTo(LivedInAccounts.DeploySudoersLine + "\n"));
        Assert.That(File.GetUnixFileMode(Root.Map(LivedInAccounts.DeploySudoersPath)), Is.EqualTo((UnixFileMode)Convert.ToInt32("440", 8)));
        var sudo = await Root.Chroot("sudo", "-l", "-U", LivedInAccounts.Deploy);
        Assert.That(sudo.StandardOutput, Does.Contain("(ALL) NOPASSWD: /usr/bin/systemctl"), sudo.StandardError);
    }

    [Test]
    public async Task Every_key_logs_in_with_the_roots_sshd_except_erins_whose_password_expired()
    {
        await using var sshd = await LiveSshd.StartAsync(Root);
        foreach (var account in LivedInAccounts.WithKeys.Where(a => a != LivedInAccounts.Erin))
        {
            var login = await sshd.LoginWithKeyAsync(account, LivedInAccounts.PrivateKey(account), "id -un");
            Assert.That(login.Succeeded, $"{account}: {login}\n--- sshd ---\n{sshd.Log}");
            Assert.That(login.StandardOutput.Trim(), Is.EqualTo(account));
        }

        // The key is accepted, then PAM's account phase (pam_unix) demands a new password, which a
        // session without a terminal cannot give.
        var erin = await sshd.LoginWithKeyAsync(LivedInAccounts.Erin, LivedInAccounts.PrivateKey(LivedInAccounts.Erin), "id -un");
        Assert.That(erin.Succeeded, Is.False, erin.ToString());
        Assert.That(erin.StandardOutput, Does.Not.Contain(LivedInAccounts.Erin));
        Assert.That(erin.StandardError, Does.Contain("WARNING: Your password has expired.\nPassword change required but no TTY available."),
            erin + "\n--- sshd ---\n" + sshd.Log);
        Assert.That(sshd.Log, Does.Contain($"Accepted publickey for {LivedInAccounts.Erin} from 127.0.0.1"));
    }

    [Test]
    public async Task A_maximum_age_locks_out_key_only_accounts_too_once_their_last_change_is_older()
    {
        // Debian 12's pam_unix ages the shadow entry whatever its hash: "*" (dave) and "!" (deploy)
        // are refused like erin once a 90-day maximum meets a change dated years ago.
        foreach (var account in new[] { LivedInAccounts.Dave, LivedInAccounts.Deploy })
        {
            var chage = await Root.Chroot("chage", "-M", "90", account);
            Assert.That(chage.ExitCode, Is.Zero, chage.StandardError);
        }
        await using var sshd = await LiveSshd.StartAsync(Root);
        foreach (var account in new[] { LivedInAccounts.Dave, LivedInAccounts.Deploy })
        {
            var login = await sshd.LoginWithKeyAsync(account, LivedInAccounts.PrivateKey(account), "id -un");
            Assert.That(login.Succeeded, Is.False, $"{account}: {login}");
            Assert.That(login.StandardError, Does.Contain("Password change required but no TTY available."), $"{account}: {login}\n--- sshd ---\n{sshd.Log}");
        }
        // carol, untouched, still gets in: the refusal is the maximum age, not the harness.
        var carol = await sshd.LoginWithKeyAsync(LivedInAccounts.Carol, LivedInAccounts.PrivateKey(LivedInAccounts.Carol), "id -un");
        Assert.That(carol.Succeeded, carol.ToString());
    }

    private Dictionary<string, string[]> Table(string path) =>
        File.ReadLines(Root.Map(path)).Select(l => l.Split(':')).Where(f => f.Length > 3).ToDictionary(f => f[0], StringComparer.Ordinal);

    private static void AssertAged(Dictionary<string, string[]> shadow, string account, int daysAgo, string maximum)
    {
        var fields = shadow[account];
        Assert.That(fields[2], Is.EqualTo(LivedInAccounts.ShadowDay(LivedInAccounts.DaysAgo(daysAgo)).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            $"{account}'s last password change");
        Assert.That(fields[4], Is.EqualTo(maximum), $"{account}'s maximum password age");
    }

    private async Task<string> StatusAsync(string package) =>
        (await Root.Chroot("dpkg-query", "-W", "-f=${Status}", package)).StandardOutput;

    private async Task<bool> InstalledAsync(string package) => await StatusAsync(package) == "install ok installed";
}
