using System.Text.RegularExpressions;
using static Harden.Integration.Tests.LivedInAccounts;

namespace Harden.Integration.Tests;

/// <summary>
/// harden on a host that has lived (see <see cref="LivedInRoot"/>): no apt lists, packages the profile
/// needs missing, people with old and expired passwords, key-only accounts, deploy and backup with
/// crontabs and NOPASSWD sudo. Either apply converges and everyone who could log in still can (a
/// real ssh client in BatchMode against the root's own sshd, a real crontab), or it refuses with
/// exit 3 and nothing changed — never exit 0 followed by a refused login.
/// </summary>
[TestFixture]
public sealed class LivedInApplyTests : LivedInTest
{
    private string[] Args(params string[] extra) => ["--root", Root.Path, "--operator", Alice, .. extra];

    private static Task<CliRun> Harden(params string[] args) => HardenCli.RunAsync(args);

    [Test]
    public async Task Apply_refuses_with_nothing_changed_while_people_and_automation_would_lose_access_and_plan_names_each()
    {
        await LocalAptRepository.ServeAsync(Root);
        var etc = await Tree.CaptureAsync(Root.Map("/etc"));

        var plan = await Harden(["plan", .. Args("--set", "ssh_allow_members=alice")]);
        var json = await Harden(["plan", "--format", "json", .. Args("--set", "ssh_allow_members=alice")]);
        var apply = await Harden(["apply", "--yes", .. Args("--set", "ssh_allow_members=alice")]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
            // Each account that logs in today and would not afterwards, marked and explained.
            // erin's password expired, so no command runs by key without a terminal; at a terminal she can still change it and log in: she counts too.
            foreach (var lost in new[] { Carol, Dave, Erin, Deploy, Backup })
                Assert.That(plan.Out, Does.Match($@"(?m)^  ! {lost}: .*\n      LOSES ACCESS: sshd refuses it: it is in none of AllowGroups phi-access"), lost);
            Assert.That(plan.Out, Does.Contain("deploy: automation (has a crontab, NOPASSWD sudo, key-only); ssh key -> none; cron allowed -> allowed"));
            Assert.That(plan.Out, Does.Match(@"(?m)^    alice: person; ssh key, password -> key$"));
            Assert.That(plan.Out, Does.Match(@"(?m)^  ! erin: person; ssh key \(with a terminal, after setting a new password\), password -> none$"));
            // root's key stops working because the profile turns root login off: named, and not refused.
            Assert.That(plan.Out, Does.Match(@"(?m)^  - root: .*\n      loses access, as intended: sshd refuses it: it is root and PermitRootLogin is no"));
            Assert.That(plan.Out, Does.Match(@"packages installed: .*chrony \[time-sync\]"));

            Assert.That(json.ExitCode, Is.Zero, json.Error);
            using var doc = System.Text.Json.JsonDocument.Parse(json.Out);
            var accounts = doc.RootElement.GetProperty("impact").GetProperty("accounts").EnumerateArray()
                .ToDictionary(a => a.GetProperty("account").GetString()!);
            Assert.That(accounts[Deploy].GetProperty("loses_ssh").GetBoolean(), Is.True);
            Assert.That(accounts[Deploy].GetProperty("kind").GetString(), Is.EqualTo("Automation"));
            Assert.That(accounts[Alice].GetProperty("loses").GetBoolean(), Is.False);

            Assert.That(apply.ExitCode, Is.EqualTo(3), apply.ToString());
            foreach (var lost in new[] { Carol, Dave, Erin, Deploy, Backup })
                Assert.That(apply.Error, Does.Contain($"{lost} ("), lost);
            Assert.That(apply.Error, Does.Not.Contain("root ("), "root's loss is the profile's own decision");
            Assert.That(apply.Error, Does.Contain("Fix: --set ssh_automation_members=deploy"));
            Assert.That(apply.Error, Does.Contain("Fix: --set ssh_allow_members=carol"));
            Assert.That(apply.Error, Does.Contain("--set shut_out_accounts="));
            Assert.That(Directory.Exists(Root.Map("/var/lib/harden/runs")) && Directory.EnumerateDirectories(Root.Map("/var/lib/harden/runs")).Any(), Is.False, "no run was started");
        }
        Assert.That(etc.Differences(await Tree.CaptureAsync(Root.Map("/etc"))), Is.Empty, "/etc is unchanged");
        Assert.That(LocalAptRepository.IndexFiles(Root), Is.Empty, "the refusal came before apt-get update");
    }

    [Test]
    public async Task Losses_named_as_intended_are_applied_and_those_accounts_really_are_shut_out()
    {
        await LocalAptRepository.ServeAsync(Root);
        var apply = await Harden(["apply", "--yes", .. Args("--set", "ssh_allow_members=alice", "--set", "ssh_automation_members=deploy",
            "--set", "shut_out_accounts=carol,dave,erin,backup")]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Match(@"(?m)^  - backup: .*\n      loses access, as intended"));

        await using var sshd = await LiveSshd.StartAsync(Root);
        foreach (var kept in new[] { Alice, Deploy })
        {
            var login = await sshd.LoginWithKeyAsync(kept, PrivateKey(kept), "id -un");
            Assert.That(login.Succeeded, $"{kept}: {login}\n{sshd.Log}");
        }
        foreach (var shut in new[] { Carol, Dave, Erin, Backup })
            Assert.That((await sshd.LoginWithKeyAsync(shut, PrivateKey(shut), "id -un")).Succeeded, Is.False, shut);
        // backup was named: its crontab owner is no longer listed, and cron itself says so.
        var cron = await Root.ChrootAs(Backup, "", "crontab", "-l");
        Assert.That(cron.ExitCode, Is.Not.Zero);
        Assert.That(cron.StandardError, Does.Contain("not allowed"));
    }

    [Test]
    public async Task Apply_converges_from_no_apt_lists_in_one_transaction_and_every_login_and_crontab_still_works_then_rollback_is_exact()
    {
        await LocalAptRepository.ServeAsync(Root);
        string[] settings = ["--set", "ssh_allow_members=alice,carol,dave,erin", "--set", "ssh_automation_members=deploy,backup"];
        var shadowBefore = Root.ReadText("/etc/shadow");

        var apply = await Harden(["apply", "--yes", .. Args(settings)]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());

        using (Assert.EnterMultipleScope())
        {
            // apt's lists were fetched once, then one install for every package the profile lacks.
            Assert.That(Regex.Matches(apply.Out, @"\$ apt-get update\b").Count, Is.EqualTo(1), apply.Out);
            var installs = Regex.Matches(apply.Out, @"(?m)^\s*\$ apt-get install -y --no-install-recommends -- (.*)$");
            Assert.That(installs, Has.Count.EqualTo(1), apply.Out);
            Assert.That(installs[0].Groups[1].Value.Split(' '), Is.SupersetOf(new[] { "chrony", "auditd", "libpam-pwquality", "debsums" }));
            Assert.That(apply.Out, Does.Contain("apt will also remove systemd-timesyncd"));
            Assert.That(await Installed("chrony"), Is.True);
            Assert.That(await Installed("systemd-timesyncd"), Is.False);
        }

        // Every account that could run a command by key still can; erin could not before and cannot now.
        await using (var sshd = await LiveSshd.StartAsync(Root))
        {
            foreach (var account in new[] { Alice, Carol, Dave, Deploy, Backup })
            {
                var login = await sshd.LoginWithKeyAsync(account, PrivateKey(account), "id -un");
                Assert.That(login.Succeeded, $"{account}: {login}\n--- sshd ---\n{sshd.Log}");
                Assert.That(login.StandardOutput.Trim(), Is.EqualTo(account));
            }
            Assert.That((await sshd.LoginWithKeyAsync(Erin, PrivateKey(Erin), "id -un")).Succeeded, Is.False);
        }
        using (Assert.EnterMultipleScope())
        {
            // The crontab owners are still allowed by cron itself (crontab checks cron.allow as the user).
            foreach (var owner in new[] { Deploy, Backup })
            {
                var cron = await Root.ChrootAs(owner, "", "crontab", "-l");
                Assert.That(cron.ExitCode, Is.Zero, $"{owner}: {cron.StandardError}");
            }
            Assert.That(Root.ReadText("/etc/cron.allow").Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "root", Backup, Deploy }));
            // Key-only and automation accounts keep their aging; carol's 700-day-old password gets the grace window.
            var shadow = Fields(Root.ReadText("/etc/shadow"));
            var before = Fields(shadowBefore);
            foreach (var untouched in new[] { Dave, Deploy, Backup }) Assert.That(shadow[untouched], Is.EqualTo(before[untouched]), untouched);
            var today = ShadowDay(DaysAgo(0));
            Assert.That(long.Parse(shadow[Carol][2]) + long.Parse(shadow[Carol][4]), Is.EqualTo(today + 14), "carol must change her password in 14 days, not today");
            Assert.That(shadow[Alice][4], Is.EqualTo("90"));
        }

        var second = await Harden(["plan", "--detailed-exitcode", .. Args(settings)]);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());

        var rollback = await Harden(["rollback", "--yes", "--root", Root.Path]);
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Installed("chrony"), Is.False);
            Assert.That(await Installed("systemd-timesyncd"), Is.True, "rollback reinstalled what apt removed for chrony\n" + rollback.Out);
            Assert.That(Root.ReadText("/etc/shadow"), Is.EqualTo(shadowBefore));
            Assert.That(File.Exists(Root.Map("/etc/cron.allow")), Is.False);
        }
    }

    [Test]
    public async Task An_unreachable_package_source_fails_before_any_write_naming_the_packages_and_the_ways_out()
    {
        LocalAptRepository.PointAtUnreachableMirror(Root);
        var etc = await Tree.CaptureAsync(Root.Map("/etc"));
        var apply = await Harden(["apply", "--yes", .. Args("--set", "ssh_allow_members=alice,carol,dave,erin", "--set", "ssh_automation_members=deploy,backup")]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(apply.ExitCode, Is.EqualTo(1), apply.ToString());
            Assert.That(apply.Error, Does.Contain("cannot install").And.Contain("chrony (module time-sync)").And.Contain("auditd (module audit)"));
            Assert.That(apply.Error, Does.Contain("Nothing was changed"));
            Assert.That(apply.Error, Does.Contain("mirror.invalid"), "apt's own words about the unreachable source are kept");
            Assert.That(apply.Error, Does.Contain("remove_modules"));
            Assert.That(Directory.Exists(Root.Map("/var/lib/harden/runs")) && Directory.EnumerateDirectories(Root.Map("/var/lib/harden/runs")).Any(), Is.False, "no run was started");
        }
        Assert.That(etc.Differences(await Tree.CaptureAsync(Root.Map("/etc"))), Is.Empty, "/etc is unchanged");
    }

    private async Task<bool> Installed(string package) =>
        (await Root.Chroot("dpkg-query", "-W", "-f=${Status}", package)).StandardOutput == "install ok installed";

    private static Dictionary<string, string[]> Fields(string shadow) =>
        shadow.Split('\n').Select(l => l.Split(':')).Where(f => f.Length > 7).ToDictionary(f => f[0], StringComparer.Ordinal);
}
