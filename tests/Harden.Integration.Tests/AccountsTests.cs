using System.Text.RegularExpressions;

namespace Harden.Integration.Tests;

/// <summary>
/// Password aging of existing accounts, account lockout and password quality, proven with the root's
/// own tools: chage -l, pamtester (the root's PAM stack as pam-auth-update built it), faillock,
/// chpasswd through pam_pwquality, and a real ssh client for the key login.
/// </summary>
public sealed class AccountsTests : RootTest
{
    private const string GoodPassword = "Correct-Horse-42-battery";

    private async Task<string> ChageAsync(string user)
    {
        var r = await Root.Chroot("chage", "-l", user);
        Assert.That(r.ExitCode, Is.Zero, r.StandardError);
        return r.StandardOutput;
    }

    private static string Field(string chage, string label) =>
        Regex.Match(chage, $@"^{Regex.Escape(label)}\s*:\s*(.*)$", RegexOptions.Multiline).Groups[1].Value.Trim();

    [Test]
    public async Task Existing_human_accounts_get_password_aging_and_rollback_restores_their_old_values()
    {
        var args = await WithOperatorAsync();
        await Root.AddUserAsync("carol", withKey: false);
        // A service account with a login shell below UID 1000 only when listed; one without a shell never.
        Assert.That((await Root.Chroot("useradd", "-r", "-u", "990", "-s", "/bin/bash", "backup-agent")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("useradd", "-u", "1500", "-s", "/usr/sbin/nologin", "svc-app")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("chage", "-M", "365", "carol")).ExitCode, Is.Zero);
        // Aging is for passwords that can be typed: each of them has one (set today), as people do.
        var passwords = await Root.ChrootWithInput("alice:Alice-pw-4711\ncarol:Carol-pw-4711\nbackup-agent:Backup-pw-4711\n", "chpasswd");
        Assert.That(passwords.ExitCode, Is.Zero, passwords.StandardError);
        var shadowBefore = Root.ReadText("/etc/shadow");
        // With passwords and no keys, carol and backup-agent log in by password today, which the profile
        // turns off: named as intended, or apply refuses.
        var extra = (string[])["--set", "password_aging_users=backup-agent", "--set", "shut_out_accounts=carol,backup-agent"];

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args, .. extra]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain("aging:accounts").And.Contain("alice (was 0:99999:7)").And.Contain("carol (was 0:365:7)")
            .And.Contain("backup-agent (was unset)"), "a system account made with useradd -r has no aging at all");
        Assert.That(plan.Out, Does.Not.Contain("svc-app (was"), "an account without a login shell is left alone");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args, .. extra]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        foreach (var user in (string[])["alice", "carol", "backup-agent"])
        {
            var chage = await ChageAsync(user);
            Assert.Multiple(() =>
            {
                Assert.That(Field(chage, "Minimum number of days between password change"), Is.EqualTo("7"), user);
                Assert.That(Field(chage, "Maximum number of days between password change"), Is.EqualTo("90"), user);
                Assert.That(Field(chage, "Number of days of warning before password expires"), Is.EqualTo("14"), user);
            });
        }
        Assert.That(Field(await ChageAsync("svc-app"), "Maximum number of days between password change"), Is.EqualTo("99999"));
        Assert.That(Root.ReadText("/etc/login.defs"), Does.Match(@"(?m)^PASS_MAX_DAYS\s+90$"));

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args, .. extra]);
        Assert.That(again.ExitCode, Is.Zero, "a second plan has nothing to do\n" + again);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Field(await ChageAsync("carol"), "Maximum number of days between password change"), Is.EqualTo("365"));
        Assert.That(Root.ReadText("/etc/shadow"), Is.EqualTo(shadowBefore), "every account's aging fields are back, byte for byte");
    }

    [Test]
    public async Task Five_wrong_passwords_lock_the_account_a_key_still_logs_in_and_faillock_reset_unlocks()
    {
        await Root.AddUserAsync("bob", withKey: false);
        var key = await LiveSshd.InstallKeyAsync(Root, "bob");
        try
        {
            var pamBefore = Root.ReadText("/etc/pam.d/common-auth");
            var apply = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes",
                "--set", "ssh_allow_members=bob", "--operator", "bob");
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
            Assert.That(apply.Out, Does.Contain("pam-auth-update --package"));

            // pam-auth-update put faillock around pam_unix, and pwquality stays in the password stack.
            var auth = Root.ReadText("/etc/pam.d/common-auth");
            Assert.That(auth, Does.Match(@"(?s)pam_faillock\.so preauth.*pam_unix\.so.*pam_faillock\.so authfail"));
            Assert.That(Root.ReadText("/etc/pam.d/common-account"), Does.Contain("pam_faillock.so"));
            Assert.That(Root.ReadText("/etc/pam.d/common-password"), Does.Contain("pam_pwquality.so"));

            // pam_pwquality, through chpasswd's own PAM conversation: a weak password is refused, a good one passes.
            var weak = await Root.ChrootWithInput("bob:abc123\n", "chpasswd");
            Assert.That(weak.ExitCode, Is.Not.Zero, "a weak password must be refused");
            Assert.That(weak.StandardError, Does.Contain("BAD PASSWORD"));
            var good = await Root.ChrootWithInput($"bob:{GoodPassword}\n", "chpasswd");
            Assert.That(good.ExitCode, Is.Zero, good.StandardError);

            async Task<bool> Authenticates(string password) =>
                (await Root.ChrootWithInput(password + "\n", "pamtester", "login", "bob", "authenticate")).ExitCode == 0;
            Assert.That(await Authenticates(GoodPassword), Is.True, "the right password works before any failure");
            for (var i = 0; i < 5; i++) Assert.That(await Authenticates("wrong-" + i), Is.False);
            Assert.That(await Authenticates(GoodPassword), Is.False, "after five failures even the right password is refused");
            var tally = await Root.Chroot("faillock", "--user", "bob");
            Assert.That(Regex.Matches(tally.StandardOutput, @"\bV\s*$", RegexOptions.Multiline), Has.Count.EqualTo(5), tally.StandardOutput);

            // The lock is on passwords: the operator's key still gets in, through the root's own sshd.
            using (var sshd = await LiveSshd.StartAsync(Root))
            {
                var login = await sshd.LoginWithKeyAsync("bob", key, "id -un");
                Assert.That(login.Succeeded, login + "\n--- sshd ---\n" + sshd.Log);
                Assert.That(login.StandardOutput.Trim(), Is.EqualTo("bob"));
            }

            Assert.That((await Root.Chroot("faillock", "--user", "bob", "--reset")).ExitCode, Is.Zero);
            Assert.That(await Authenticates(GoodPassword), Is.True, "faillock --reset unlocks");

            var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
            Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
            Assert.That(Root.ReadText("/etc/pam.d/common-auth"), Is.EqualTo(pamBefore), "the PAM stack is back byte for byte");
            Assert.That(File.Exists(Root.Map("/usr/share/pam-configs/hipaa-faillock")), Is.False);
        }
        finally
        {
            LiveSshd.DeleteKey(key);
        }
    }
}
