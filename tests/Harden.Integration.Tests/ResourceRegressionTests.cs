using System.Diagnostics;
using System.Text.Json;

namespace Harden.Integration.Tests;

/// <summary>
/// One test per defect of the file-only model and per new resource kind, on a real Debian root,
/// checked with the root's own tools (sshd -T -C, systemctl, dpkg) and, for Match blocks, a real
/// ssh client against the root's own sshd on 127.0.0.1.
/// </summary>
public sealed class ResourceRegressionTests : RootTest
{
    private readonly List<string> _cleanup = [];

    /// <summary>
    /// The first-boot failure of the live-hosts issue, offline: the kernel refuses a rule while
    /// augenrules loads them. The message quotes the refused rule, and the restore takes the operator
    /// out of phi-access only after the handlers ran (sshd reloaded off AllowGroups), never before.
    /// </summary>
    [Test]
    public async Task A_refused_audit_rule_is_named_and_accounts_are_restored_after_the_handlers()
    {
        var args = await WithOperatorAsync();
        var before = await Tree.CaptureAsync(Root.Map("/etc"));
        await ReplaceProgramAsync("/usr/sbin/augenrules",
            "/usr/sbin/augenrules.real \"$@\" || exit $?\necho 'Error sending add rule data request (No such file or directory)' >&2\n" +
            "echo 'There was an error in line 2 of /etc/audit/audit.rules' >&2\nexit 1");
        var apply = await Harden(["apply", "--yes", .. args]);
        RestoreProgram("/usr/sbin/augenrules");
        var output = apply.Out + apply.Error;
        Assert.That(apply.ExitCode, Is.EqualTo(4), apply.ToString());
        var handlers = output.IndexOf("handler reload-ssh skipped", output.IndexOf("restoring everything", StringComparison.Ordinal), StringComparison.Ordinal);
        var membership = output.IndexOf("gpasswd", output.IndexOf("restoring everything", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Multiple(async () =>
        {
            Assert.That(output, Does.Match(@"line 2 of /etc/audit/audit\.rules is: -\S"), "the refused rule is quoted");
            Assert.That(handlers, Is.Positive, output);
            Assert.That(membership, Is.GreaterThan(handlers), "alice leaves phi-access only after the handlers ran\n" + output);
            Assert.That(before.Differences(await Tree.CaptureAsync(Root.Map("/etc"))), Is.Empty);
        });
    }

    [TearDown]
    public void CleanUp()
    {
        foreach (var path in _cleanup)
        {
            if (File.Exists(path)) File.Delete(path);
            else if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        _cleanup.Clear();
    }

    /// <summary>A profile file beside the root (never inside it), removed after the test.</summary>
    private string Profile(string suffix, string yaml)
    {
        var name = Path.GetFileName(Root.Path) + "-" + suffix;
        var path = Path.Combine(Path.GetDirectoryName(Root.Path)!, name + ".yaml");
        File.WriteAllText(path, $"name: {name}\n{yaml}");
        _cleanup.Add(path);
        return path;
    }

    private async Task<string> GroupLineAsync(string group) =>
        (await File.ReadAllLinesAsync(Root.Map("/etc/group"))).FirstOrDefault(l => l.StartsWith(group + ":", StringComparison.Ordinal)) ?? "";

    [Test]
    public async Task Rollback_keeps_groups_and_users_added_after_the_run()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        // The admin carries on: a new group, and a user whose own group is new too.
        Assert.That((await Root.Chroot("groupadd", "billing")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("useradd", "-m", "-G", "billing", "bob")).ExitCode, Is.Zero);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
            Assert.That(rollback.Out, Does.Contain("$ gpasswd -d alice phi-access").And.Contain("$ groupdel -- phi-access"));
            Assert.That(await GroupLineAsync("billing"), Does.Match("^billing:x:[0-9]+:bob$"));
            Assert.That(await GroupLineAsync("bob"), Does.StartWith("bob:x:"));
            Assert.That(await GroupLineAsync("phi-access"), Is.Empty, "the group the run created is gone");
            Assert.That((await Root.Chroot("id", "-nG", "bob")).StandardOutput.Trim(), Is.EqualTo("bob billing"));
            Assert.That((await Root.Chroot("grpck", "-r")).ExitCode, Is.Zero, "group and gshadow are consistent");
        }
    }

    [Test]
    public async Task A_match_block_that_turns_passwords_back_on_is_neutralised_and_a_real_client_is_refused()
    {
        var args = await WithOperatorAsync();
        const string password = "Correct-Horse-42-battery";
        await LiveSshd.SetPasswordAsync(Root, "alice", password);
        var key = await LiveSshd.InstallKeyAsync(Root, "alice");
        _cleanup.Add(Path.GetDirectoryName(key)!);
        await File.AppendAllTextAsync(Root.Map("/etc/ssh/sshd_config"), "Match Address 127.0.0.0/8\n    PasswordAuthentication yes\n    PermitRootLogin yes\n");
        var lines = await File.ReadAllLinesAsync(Root.Map("/etc/ssh/sshd_config"));

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain($"~ sshd-match:/etc/ssh/sshd_config:{lines.Length - 1}  [ssh]  (passwordauthentication yes in 'Match Address 127.0.0.0/8'"));
        Assert.That(plan.Out, Does.Contain($"~ sshd-match:/etc/ssh/sshd_config:{lines.Length}  [ssh]  (permitrootlogin yes in 'Match Address 127.0.0.0/8'"));

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("globally and for 1 Match block(s)"));
        var matched = await Root.Chroot("sshd", "-T", "-C", "user=alice,host=x,addr=127.0.0.1,laddr=127.0.0.1,lport=22");
        Assert.That(matched.StandardOutput, Does.Contain("passwordauthentication no").And.Contain("permitrootlogin no"));

        await using var sshd = await LiveSshd.StartAsync(Root);
        var withPassword = await sshd.LoginWithPasswordAsync("alice", password, "id -un");
        var withKey = await sshd.LoginWithKeyAsync("alice", key, "id -un");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(withPassword.Succeeded, Is.False, "a password from a matching address must be refused: " + withPassword);
            Assert.That(withKey.Succeeded, Is.True, withKey + "\n" + sshd.Log);
            Assert.That(withKey.StandardOutput.Trim(), Is.EqualTo("alice"));
        }
    }

    [Test]
    public async Task A_keyword_alias_in_a_drop_in_is_a_conflict_not_a_failed_apply()
    {
        var args = await WithOperatorAsync();
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config.d/50-legacy.conf"), "ChallengeResponseAuthentication yes\n");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("~ sshd-conflict:/etc/ssh/sshd_config.d/50-legacy.conf:1"));
        Assert.That((await Root.EffectiveSshdAsync())["kbdinteractiveauthentication"], Is.EqualTo("no"));
    }

    [Test]
    public async Task A_file_and_a_directory_can_belong_to_a_group_the_same_run_creates()
    {
        var args = await WithOperatorAsync();
        var profile = Profile("records", """
            extends: debian-hipaa
            variables:
              records_group:
                type: names
                default: [clinic-records]
            modules:
              - id: records
                citations: ["164.312(c)(1)"]
                groups_from: records_group
                directories:
                  - path: /srv/records/phi
                    group: clinic-records
                    mode: "2770"
                files:
                  - path: /etc/records.conf
                    template: banners/hipaa-banner.txt.sbn
                    group: clinic-records
                    mode: "0640"
            """);

        var apply = await Harden(["apply", "--profile", profile, "--yes", .. args]);

        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var gid = (await GroupLineAsync("clinic-records")).Split(':')[2];
        var stat = await Root.Chroot("stat", "-c", "%a %U %G", "/srv/records/phi", "/etc/records.conf");
        Assert.That(stat.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries),
            Is.EqualTo(new[] { "2770 root clinic-records", "640 root clinic-records" }), $"gid {gid}");

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Directory.Exists(Root.Map("/srv/records")), Is.False, "folders the run created are removed when empty");
        Assert.That(await GroupLineAsync("clinic-records"), Is.Empty);
    }

    [Test]
    public async Task The_lockout_guard_runs_for_any_module_that_restricts_ssh()
    {
        await Root.AddUserAsync("bob", withKey: false);
        var profile = Profile("site-ssh", """
            extends: debian-hipaa
            remove_modules: [ssh]
            modules:
              - id: remote-access
                title: Site SSH policy, no verify key on purpose
                files:
                  - path: /etc/ssh/sshd_config.d/00-site.conf
                    template: ssh/00-hipaa.conf.sbn
            """);
        var before = await EtcAsync();

        var run = await Harden("apply", "--profile", profile, "--root", Root.Path, "--yes", "--operator", "bob");

        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.Error, Does.Contain("the operator (bob) could not log in afterwards"));
        AssertUnchanged(before, await EtcAsync());
    }

    /// <summary>SIGTERM (a service manager), SIGINT (Ctrl-C) and SIGHUP (a dropped SSH session) all restore.</summary>
    [TestCase("TERM")]
    [TestCase("INT")]
    [TestCase("HUP")]
    public async Task A_signal_during_apply_restores_the_host_and_exits_4(string signal)
    {
        // A shell starts background jobs with SIGINT ignored, and a child inherits that: harden then
        // rightly ignores Ctrl-C too. Only meaningful when this test run can receive SIGINT itself.
        if (signal == "INT" && SignalIgnored(2)) Assert.Ignore("this test run ignores SIGINT (started as a background job), so apply inherits that");
        var args = await WithOperatorAsync();
        var before = await EtcAsync();
        await WrapSshdAsync("touch /verify-started; sleep 30", "-T");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = "/", RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[HardenCli.Assembly, "apply", "--profile", "debian-hipaa", "--yes", .. args]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(Root.Map("/verify-started")))
        {
            if (process.HasExited) Assert.Fail("apply ended before the verification: " + await stderr);
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the verification never started");
            await Task.Delay(50);
        }

        var signalled = Stopwatch.StartNew();
        await DebianRoot.Run("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(25));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"apply did not exit within 25 s of SIG{signal}:\n{await stderr}\n{await stdout}");
        }
        RestoreProgram("/usr/sbin/sshd");
        File.Delete(Root.Map("/verify-started"));

        var error = await stderr;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(process.ExitCode, Is.EqualTo(4), error + await stdout);
            Assert.That(signalled.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "the restore is bounded and does not wait for the hung check");
            Assert.That(error, Does.Contain($"SIG{signal} received").And.Contain("host restored").And.Contain("interrupted"));
        }
        AssertUnchanged(before, await EtcAsync());
        var manifest = Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single() + "/manifest.json";
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(manifest));
        Assert.That(doc.RootElement.GetProperty("state").GetString(), Is.EqualTo("failed-restored"));
        var plan = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(plan.ExitCode, Is.EqualTo(2), "nothing unfinished is left: the plan is the plain first-apply plan\n" + plan);
    }

    /// <summary>Whether this process ignores a signal (bit N-1 of SigIgn in /proc/self/status).</summary>
    private static bool SignalIgnored(int number) =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is var line
        && (ulong.Parse(line[7..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & (1UL << (number - 1))) != 0;

    [Test]
    public async Task The_banner_goes_where_sshd_is_told_to_look()
    {
        var args = await WithOperatorAsync("--set", "banner_path=/etc/issue.hipaa");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That((await Root.EffectiveSshdAsync())["banner"], Is.EqualTo("/etc/issue.hipaa"));
        Assert.That(Root.ReadText("/etc/issue.hipaa"), Does.Contain("AUTHORIZED ACCESS ONLY"));
        Assert.That(File.Exists(Root.Map("/etc/ssh/hipaa-banner.txt")), Is.False);
    }

    [Test]
    public async Task Run_state_is_private_to_root()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        var run = Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single();
        var rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.GetUnixFileMode(Root.Map("/var/lib/harden")), Is.EqualTo(rwx));
            Assert.That(File.GetUnixFileMode(Root.Map("/var/lib/harden/runs")), Is.EqualTo(rwx));
            Assert.That(File.GetUnixFileMode(run), Is.EqualTo(rwx));
            Assert.That(File.GetUnixFileMode(run + "/manifest.json"), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(Directory.GetFiles(run + "/files").Select(File.GetUnixFileMode), Is.All.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public async Task A_disabled_service_is_enabled_and_rollback_disables_it_again()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Root.Chroot("systemctl", "disable", "auditd.service")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "auditd.service")).StandardOutput.Trim(), Is.EqualTo("disabled"));
        var before = await EtcAsync();

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("$ systemctl enable auditd.service"));
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "auditd.service")).StandardOutput.Trim(), Is.EqualTo("enabled"));

        Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).ExitCode, Is.Zero);
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "auditd.service")).StandardOutput.Trim(), Is.EqualTo("disabled"));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_block_at_the_top_of_sshd_config_is_seen_by_sshd_and_rolled_back()
    {
        var args = await WithOperatorAsync();
        var profile = Profile("block", """
            extends: debian-hipaa
            modules:
              - id: scanner-view
                citations: ["164.312(a)(1)"]
                blocks:
                  - path: /etc/ssh/sshd_config
                    template: ssh/00-hipaa.conf.sbn
                    position: top
                    validate: sshd
            """);
        var before = await EtcAsync();

        var apply = await Harden(["apply", "--profile", profile, "--yes", .. args]);

        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var main = Root.ReadText("/etc/ssh/sshd_config");
        Assert.That(main, Does.StartWith("# BEGIN harden scanner-view"));
        Assert.That(main.IndexOf("PasswordAuthentication no", StringComparison.Ordinal), Is.LessThan(main.IndexOf("Include ", StringComparison.Ordinal)));
        Assert.That((await Root.EffectiveSshdAsync())["maxauthtries"], Is.EqualTo("3"));
        Assert.That((await Harden(["plan", "--profile", profile, "--detailed-exitcode", .. args])).ExitCode, Is.Zero, "idempotent");

        Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).ExitCode, Is.Zero);
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_module_dropped_from_the_profile_is_listed_and_pruned()
    {
        var args = await WithOperatorAsync();
        var original = Root.ReadText("/etc/issue.net");
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        var slimmer = Profile("slim", "extends: debian-hipaa\nremove_modules: [banner]\n");

        var plan = await Harden(["plan", "--profile", slimmer, "--detailed-exitcode", .. args]);
        Assert.That(plan.ExitCode, Is.EqualTo(2), plan.ToString());
        Assert.That(plan.Out, Does.Contain("No longer managed").And.Contain("file:/etc/issue.net  [banner").And.Contain("file:/etc/ssh/hipaa-banner.txt  [banner"));

        var prune = await Harden(["apply", "--profile", slimmer, "--prune", "--yes", .. args]);

        Assert.That(prune.ExitCode, Is.Zero, prune.ToString());
        Assert.That(prune.Out, Does.Contain("- pruned file:/etc/issue.net"));
        Assert.That(Root.ReadText("/etc/issue.net"), Is.EqualTo(original));
        Assert.That(File.Exists(Root.Map("/etc/ssh/hipaa-banner.txt")), Is.False);
        Assert.That((await Harden(["plan", "--profile", slimmer, "--detailed-exitcode", .. args])).ExitCode, Is.Zero, "nothing left to prune");
    }

    [Test]
    public async Task Checks_run_on_a_staged_copy_before_any_real_file_is_replaced()
    {
        var args = await WithOperatorAsync();
        // The fake check records what the real configuration looked like at the moment of checking, then fails.
        await WrapSshdAsync("ls /etc/ssh/sshd_config.d/ > /seen-at-check; echo \"$@\" >> /seen-at-check; echo 'injected' >&2; exit 255");
        var before = await EtcAsync();

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        var seen = Root.ReadText("/seen-at-check");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
            Assert.That(seen, Does.Not.Contain("00-hipaa.conf"), "the real drop-in folder had not been touched when sshd -t ran");
            Assert.That(seen, Does.Contain("-t -f /var/lib/harden/runs/").And.Contain("/stage/sshd/sshd_config"));
            Assert.That(Directory.Exists(Root.Map("/var/data")), Is.False, "the folder made before the check is gone again");
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_removed_package_comes_back_from_apts_cache_on_rollback()
    {
        var args = await WithOperatorAsync();
        // A stand-in for an insecure service package, installed the way dpkg installs any package.
        var build = Directory.CreateTempSubdirectory("harden-deb-").FullName;
        _cleanup.Add(build);
        Directory.CreateDirectory(build + "/talkd/DEBIAN");
        await File.WriteAllTextAsync(build + "/talkd/DEBIAN/control",
            "Package: talkd\nVersion: 9.9-harden\nArchitecture: all\nMaintainer: harden tests <tests@harden.invalid>\nDescription: stand-in\n");
        var deb = Root.Map("/var/cache/apt/archives/talkd_9.9-harden_all.deb");
        await DebianRoot.Run("dpkg-deb", ["--build", "--root-owner-group", build + "/talkd", deb]);
        Assert.That((await Root.Chroot("dpkg", "-i", "/var/cache/apt/archives/talkd_9.9-harden_all.deb")).ExitCode, Is.Zero);
        string Status() => Root.Chroot("dpkg-query", "-W", "-f", "${Status} ${Version}", "talkd").GetAwaiter().GetResult().StandardOutput;

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain("- package:talkd  [insecure-services]  (remove talkd 9.9-harden)"));
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(Status(), Does.Not.StartWith("install ok installed"));

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(rollback.Out, Does.Contain("$ dpkg -i /var/cache/apt/archives/talkd_9.9-harden_all.deb"));
        Assert.That(Status(), Is.EqualTo("install ok installed 9.9-harden"));
    }

    [Test]
    public async Task A_restore_that_fails_keeps_the_first_error_and_says_what_is_left()
    {
        var args = await WithOperatorAsync();
        var before = await EtcAsync();
        // The run fails in its verification; then the restore meets a broken groupdel.
        await WrapSshdAsync("echo 'injected verify failure' >&2; exit 255", "-T");
        await ReplaceProgramAsync("/usr/sbin/groupdel", "echo 'groupdel: cannot lock /etc/group; try again later.' >&2\nexit 10");

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(5), run.ToString());
            Assert.That(run.Error, Does.Contain("injected verify failure"), "the first error is kept");
            Assert.That(run.Error, Does.Contain("still to restore: ").And.Contain("group:phi-access (groupdel phi-access failed (exit 10)"));
            Assert.That(run.Error, Does.Match($@"harden rollback --root {Root.Path} --run \S+"));
            Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.False, "everything else was restored");
        }

        RestoreProgram("/usr/sbin/groupdel");
        RestoreProgram("/usr/sbin/sshd");
        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.EqualTo(1), "an unfinished restore is not a clean host: " + plan);
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task The_staged_check_reads_the_candidate_however_Include_is_spelled()
    {
        var args = await WithOperatorAsync("--set", "ssh_ciphers=aes256-ctr,bogus-cipher");
        var main = Root.ReadText("/etc/ssh/sshd_config");
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config"),
            main.Replace("Include /etc/ssh/sshd_config.d/*.conf", "include\tsshd_config.d/*.conf", StringComparison.Ordinal));
        var before = await EtcAsync();

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
            Assert.That(run.Error, Does.Contain("sshd -t failed").And.Contain("bogus-cipher"), "the real sshd refused the staged candidate");
            Assert.That(run.Out, Does.Not.Contain("+ file:/etc/ssh/sshd_config.d/00-hipaa.conf"), "the broken drop-in was never written");
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task Rollback_keeps_an_admins_change_to_a_folder_and_the_group_that_still_owns_it()
    {
        var args = await WithOperatorAsync();
        Directory.CreateDirectory(Root.Map("/var/data/phi"));
        File.SetUnixFileMode(Root.Map("/var/data/phi"), (UnixFileMode)Convert.ToInt32("755", 8));
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        // Records arrive, and the admin tightens the folder.
        await File.WriteAllTextAsync(Root.Map("/var/data/phi/record-1"), "patient data\n");
        Assert.That((await Root.Chroot("chmod", "2750", "/var/data/phi")).ExitCode, Is.Zero);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollback.ExitCode, Is.EqualTo(6), rollback.ToString());
            Assert.That(rollback.Error, Does.Contain("/var/data/phi: changed since the run (mode 02770 -> 02750)"));
            Assert.That(rollback.Out, Does.Contain("note: group phi-access still owns /var/data/phi; left in place"));
            Assert.That(await GroupLineAsync("phi-access"), Does.StartWith("phi-access:x:"), "the gid is not freed for the next groupadd");
            Assert.That((await Root.Chroot("stat", "-c", "%a %G", "/var/data/phi")).StandardOutput.Trim(), Is.EqualTo("2750 phi-access"));
            Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.False, "everything else was rolled back");
        }
    }

    [Test]
    public async Task Match_blocks_in_every_included_file_are_found_neutralised_and_verified()
    {
        var args = await WithOperatorAsync();
        await File.AppendAllTextAsync(Root.Map("/etc/ssh/sshd_config"), "include local/*.conf\n");
        Directory.CreateDirectory(Root.Map("/etc/ssh/local"));
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/local/10-site.conf"), "Match User *\n    PasswordAuthentication yes\n    PermitRootLogin yes\nMatch Address *\n    KbdInteractiveAuthentication yes\n");

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain("~ sshd-match:/etc/ssh/local/10-site.conf:2  [ssh]  (passwordauthentication yes in 'Match User *'"));
        Assert.That(plan.Out, Does.Contain("~ sshd-match:/etc/ssh/local/10-site.conf:5  [ssh]  (kbdinteractiveauthentication yes in 'Match Address *'"));

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("globally and for 2 Match block(s)"));
        var anyone = await Root.Chroot("sshd", "-T", "-C", "user=mallory,host=x,addr=203.0.113.9,laddr=127.0.0.1,lport=22");
        Assert.That(anyone.StandardOutput, Does.Contain("passwordauthentication no").And.Contain("permitrootlogin no").And.Contain("kbdinteractiveauthentication no"));
    }
}
