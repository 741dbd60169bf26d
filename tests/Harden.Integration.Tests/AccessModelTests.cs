using System.Globalization;

namespace Harden.Integration.Tests;

/// <summary>
/// The access model against the configurations that fooled it once (an adversarial review): each one
/// on a real root, with the plan's impact or apply's refusal checked, and where it matters the
/// root's own sshd, PAM (pamtester) or cron saying the same.
/// </summary>
public sealed class AccessModelTests : RootTest
{
    private async Task<string> KeyedUserAsync(string name, params string[] groups)
    {
        await Root.AddUserAsync(name, withKey: false, groups);
        return await LiveSshd.InstallKeyAsync(Root, name);
    }

    private static long Today => (long)Math.Floor((DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalDays);

    [Test]
    public async Task A_converged_host_applies_again_without_naming_accounts_that_already_have_no_access()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--yes", .. args])).ExitCode, Is.Zero);
        // bob arrives after the first run with a key, outside phi-access: sshd (AllowGroups in harden's block) refuses him today already.
        await KeyedUserAsync("bob");
        var plan = await Harden(["plan", .. args]);
        Assert.That(plan.Out, Does.Not.Contain("LOSES ACCESS"), plan.Out);
        var again = await Harden(["apply", "--yes", .. args]);
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
    }

    [Test]
    public async Task A_Match_block_that_needs_keyboard_interactive_is_seen_and_apply_refuses_to_turn_it_off()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Root.Chroot("groupadd", "admins")).ExitCode, Is.Zero);
        var key = await KeyedUserAsync("ops", "admins");
        Assert.That((await Root.ChrootWithInput("ops:Ops-password-4711\n", "chpasswd")).ExitCode, Is.Zero);
        // Debian's own line says no; the admins' second factor needs it on (sshd keeps the first value).
        var config = Root.ReadText("/etc/ssh/sshd_config").Replace("KbdInteractiveAuthentication no", "KbdInteractiveAuthentication yes");
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config"), config + "Match Group admins\n    AuthenticationMethods publickey,keyboard-interactive\n");
        Assert.That((await Root.Chroot("sshd", "-t")).ExitCode, Is.Zero);
        var etc = await EtcAsync();

        var apply = await Harden(["apply", "--yes", .. args, "--set", "ssh_allow_members=alice,ops"]);
        Assert.That(apply.ExitCode, Is.EqualTo(3), apply.ToString());
        Assert.That(apply.Error, Does.Contain("ops (").And.Contain("no list of AuthenticationMethods publickey,keyboard-interactive can be satisfied"));
        AssertUnchanged(etc, await EtcAsync());

        // What the model foresaw is what sshd does: with keyboard-interactive off, the key alone no longer gets in.
        await File.AppendAllTextAsync(Root.Map("/etc/ssh/sshd_config.d/00-test.conf"), "KbdInteractiveAuthentication no\n");
        await using var sshd = await LiveSshd.StartAsync(Root);
        var login = await sshd.LoginWithKeyAsync("ops", key, "id -un");
        Assert.That(login.Succeeded, Is.False, login.ToString());
    }

    [Test]
    public async Task Host_qualified_denials_added_up_lists_globs_and_sftp_only_accounts_do_not_hide_a_loss()
    {
        var args = await WithOperatorAsync();
        await KeyedUserAsync("deploy");
        Assert.That((await Root.Chroot("groupadd", "sftponly")).ExitCode, Is.Zero);
        await KeyedUserAsync("dropbox", "sftponly");
        Assert.That((await Root.Chroot("usermod", "-s", "/usr/sbin/nologin", "dropbox")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("groupadd", "deployers")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("usermod", "-aG", "deployers", "deploy")).ExitCode, Is.Zero);
        // Two AllowGroups lines add up (sshd), a glob names the deployers, and a denial from one address shuts nobody out.
        var config = Root.ReadText("/etc/ssh/sshd_config");
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config"), config.Replace("Include /etc/ssh/sshd_config.d/*.conf",
            "Include /etc/ssh/sshd_config.d/*.conf\nDenyUsers *@203.0.113.5\nAllowGroups alice sftponly\nAllowGroups deploy*\n")
            + "Match Group sftponly\n    ForceCommand internal-sftp\n");
        Assert.That((await Root.Chroot("sshd", "-t")).ExitCode, Is.Zero);

        var plan = await Harden(["plan", .. args]);
        Assert.That(plan.Out, Does.Match(@"(?m)^  ! deploy: .*ssh key -> none"), plan.Out);
        Assert.That(plan.Out, Does.Match(@"(?m)^  ! dropbox: .*ssh key -> none"), "an SFTP-only account with nologin logs in today");
        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.EqualTo(3), apply.ToString());
    }

    [Test]
    public async Task Aging_never_turns_a_password_that_must_be_changed_into_a_locked_account()
    {
        var args = await WithOperatorAsync("--set", "shut_out_accounts=carol");
        await Root.AddUserAsync("carol", withKey: false);
        Assert.That((await Root.ChrootWithInput("carol:Carol-password-4711\n", "chpasswd")).ExitCode, Is.Zero);
        var changed = DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + (int)(Today - 200)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.That((await Root.Chroot("chage", "-d", changed, "-M", "180", "-I", "30", "carol")).ExitCode, Is.Zero);
        var before = await Root.Chroot("pamtester", "login", "carol", "acct_mgmt");
        Assert.That(before.StandardError, Does.Contain("Authentication token is no longer valid; new one required"), before.ToString());

        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var after = await Root.Chroot("pamtester", "login", "carol", "acct_mgmt");
        Assert.That(after.StandardError, Does.Contain("Authentication token is no longer valid; new one required"), "still 'change it', never 'locked'\n" + after);
        Assert.That(Root.ReadText("/etc/shadow").Split('\n').Single(l => l.StartsWith("carol:", StringComparison.Ordinal)).Split(':')[4], Is.EqualTo("180"));
    }

    [Test]
    public async Task A_crontab_root_wrote_for_a_user_keeps_that_user_in_cron_allow()
    {
        var args = await WithOperatorAsync();
        await Root.AddUserAsync("ci", withKey: false);
        // As root's 'crontab -u ci' on some systems leaves it: root-owned, which cron accepts.
        await File.WriteAllTextAsync(Root.Map("/var/spool/cron/crontabs/ci"), "0 3 * * * true\n");
        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(Root.ReadText("/etc/cron.allow").Split('\n', StringSplitOptions.RemoveEmptyEntries), Does.Contain("ci"));
        var cron = await Root.ChrootAs("ci", "", "crontab", "-l");
        Assert.That(cron.StandardError, Does.Not.Contain("not allowed"), cron.ToString());
    }
}
