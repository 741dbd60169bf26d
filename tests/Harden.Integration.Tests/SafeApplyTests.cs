using System.Diagnostics;

namespace Harden.Integration.Tests;

/// <summary>Fault injection on a real root: apply never leaves a host worse than it found it.</summary>
public sealed class SafeApplyTests : RootTest
{
    [Test]
    public async Task A_failing_sshd_check_rolls_back_every_file()
    {
        var args = await WithOperatorAsync();
        await WrapSshdAsync("echo 'line 7: Bad configuration option: injected' >&2; exit 255");
        var before = await EtcAsync();

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
            Assert.That(run.Error, Does.Contain("sshd -t failed").And.Contain("Bad configuration option: injected"));
            Assert.That(run.Error, Does.Contain("host restored"));
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [TestCase("audit/hipaa.rules.sbn", "-a always,exit -F arch=b64 -S notasyscall -k x\n", "syscall 'notasyscall' is unknown for b64")]
    [TestCase("rsyslog/60-hipaa-remote.conf.sbn", "action(type=\"omfwd\" target=\"{{ log_server }}\" nosuchparameter=\"1\")\n", "rsyslogd -N1 failed")]
    [TestCase("profile.d/hipaa-timeout.sh.sbn", "if then fi\n", "sh -n failed")]
    [TestCase("chrony/hipaa.sources.sbn", "server {{ time_servers[0] }} iburst bogus-option\n", "chronyd -p failed")]
    public async Task A_file_that_fails_its_real_checker_rolls_back_the_run(string template, string content, string message)
    {
        var args = await WithOperatorAsync("--set", "log_server=logs.example.org", "--set", "time_servers=ntp1.example.org");
        var templates = Directory.CreateTempSubdirectory("harden-templates-").FullName;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(templates, template))!);
            await File.WriteAllTextAsync(Path.Combine(templates, template), content);
            var before = await EtcAsync();

            var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", "--templates", templates, .. args]);

            Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
            Assert.That(run.Error, Does.Contain(message));
            AssertUnchanged(before, await EtcAsync());
        }
        finally
        {
            Directory.Delete(templates, recursive: true);
        }
    }

    [TestCase("Defaults timestamp_timeout=5\n", 0)]
    [TestCase("Defaults timestamp_timeout=\n%phi-access ALL=(ALL ALL\n", 4)]
    public async Task A_sudoers_drop_in_is_checked_with_visudo(string content, int exitCode)
    {
        var args = await WithOperatorAsync();
        var folder = Directory.CreateTempSubdirectory("harden-sudoers-").FullName;
        try
        {
            var profile = Path.Combine(folder, "sudo-test.yaml");
            await File.WriteAllTextAsync(profile, "name: sudo-test\nextends: debian-hipaa\nmodules:\n  - id: sudo\n    citations: [\"164.312(a)(1)\"]\n" +
                "    files:\n      - path: /etc/sudoers.d/hipaa\n        template: sudo/hipaa.sbn\n        mode: \"0440\"\n        validate: sudoers\n");
            Directory.CreateDirectory(Path.Combine(folder, "templates/sudo"));
            await File.WriteAllTextAsync(Path.Combine(folder, "templates/sudo/hipaa.sbn"), content);
            var before = await EtcAsync();

            var run = await Harden(["apply", "--profile", profile, "--templates", Path.Combine(folder, "templates"), "--yes", .. args]);

            Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.ToString());
            if (exitCode == 0)
            {
                var check = await Root.Chroot("visudo", "-c");
                Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
                return;
            }
            Assert.That(run.Error, Does.Contain("visudo -c failed").And.Contain("syntax error"));
            AssertUnchanged(before, await EtcAsync());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task A_mismatch_in_the_effective_config_rolls_back_and_names_the_setting()
    {
        // Without the Include line sshd never reads the drop-in (as on OpenSSH before 8.2); with the
        // block in sshd_config turned off, the drop-in is the only place the settings are.
        var config = Root.Map("/etc/ssh/sshd_config");
        await File.WriteAllTextAsync(config, (await File.ReadAllTextAsync(config)).Replace("Include /etc/ssh/sshd_config.d/*.conf", "# no include"));
        var args = await WithOperatorAsync("--set", "ssh_settings_in_main_config=false");
        var before = await EtcAsync();

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Out, Does.Contain("sshd will not read"));
            Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
            Assert.That(run.Error, Does.Contain("passwordauthentication: wanted 'no', effective 'yes'"));
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_cloud_init_drop_in_is_neutralised_and_restored_by_rollback()
    {
        var args = await WithOperatorAsync();
        var dropIn = Root.Map("/etc/ssh/sshd_config.d/50-cloud-init.conf");
        await File.WriteAllTextAsync(dropIn, "PasswordAuthentication yes\n");
        var before = await EtcAsync();

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain("~ sshd-conflict:/etc/ssh/sshd_config.d/50-cloud-init.conf:1  [ssh]  (passwordauthentication yes; the profile wants no)"));

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That((await Root.EffectiveSshdAsync())["passwordauthentication"], Is.EqualTo("no"));
        Assert.That(await File.ReadAllTextAsync(dropIn), Does.StartWith("# harden: disabled, conflicts with /etc/ssh/sshd_config (harden block): PasswordAuthentication yes"));

        Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).ExitCode, Is.Zero);
        Assert.That(await File.ReadAllTextAsync(dropIn), Is.EqualTo("PasswordAuthentication yes\n"));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task No_allowed_user_with_a_key_is_refused_with_exit_3()
    {
        await Root.AddUserAsync("alice", withKey: false);
        var before = await EtcAsync();

        var run = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--set", "ssh_allow_members=alice");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
            Assert.That(run.Error, Does.Contain("lock out").And.Contain("alice").And.Contain("authorized_keys").And.Contain("--accept-lockout-risk"));
        }
        AssertUnchanged(before, await EtcAsync());

        var accepted = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--set", "ssh_allow_members=alice", "--accept-lockout-risk");
        Assert.That(accepted.ExitCode, Is.Zero, accepted.ToString());
    }

    [Test]
    public async Task An_operator_outside_the_allowed_groups_is_refused()
    {
        await Root.AddUserAsync("bob", withKey: true);
        var before = await EtcAsync();

        var run = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--operator", "bob");

        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.Error, Does.Contain("the operator (bob)").And.Contain("usermod -aG phi-access bob"));
        AssertUnchanged(before, await EtcAsync());
    }

    /// <summary>Starts harden as its own process with a slow sshd check, and waits until it is inside the check.</summary>
    private async Task<Process> StartSlowApplyAsync(string[] args, int seconds)
    {
        var marker = Root.Map("/validator-started");
        // Slow in the verification (sshd -T), after the files are written: the staged check (sshd -t) comes before.
        await WrapSshdAsync($"echo $$ > /validator-started; sleep {seconds}", "-T");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = "/", RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[HardenCli.Assembly, "apply", "--profile", "debian-hipaa", "--yes", .. args]) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(marker) || (await File.ReadAllTextAsync(marker)).Length == 0)
        {
            if (process.HasExited) Assert.Fail($"apply ended early: {await process.StandardError.ReadToEndAsync()}");
            if (DateTime.UtcNow > deadline) Assert.Fail("the slow validator never started");
            await Task.Delay(100);
        }
        return process;
    }

    private async Task KillValidatorAsync()
    {
        var pid = (await File.ReadAllTextAsync(Root.Map("/validator-started"))).Trim();
        await CliWrap.Cli.Wrap("kill").WithArguments(["-9", pid]).WithValidation(CliWrap.CommandResultValidation.None).ExecuteAsync();
    }

    [Test]
    public async Task A_run_killed_mid_way_is_noticed_and_rolled_back_to_the_exact_prior_bytes()
    {
        var args = await WithOperatorAsync();
        var before = await EtcAsync();
        var process = await StartSlowApplyAsync(args, 30);

        process.Kill();
        await process.WaitForExitAsync();
        await KillValidatorAsync();
        Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.True, "the run was killed after writing");

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Out, Does.Contain("did not finish"));
            Assert.That(plan.ExitCode, Is.EqualTo(1), "a drift check never calls a host with an unfinished run clean");
            Assert.That(plan.Error, Does.Contain($"harden rollback --root {Root.Path} --run"));
            Assert.That(apply.ExitCode, Is.EqualTo(1));
            Assert.That(apply.Error, Does.Contain("did not finish").And.Contain($"harden rollback --root {Root.Path} --run"));
            Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        }
        AssertUnchanged(before, await EtcAsync());
        var leftovers = Directory.EnumerateFiles(Root.Map("/etc"), ".*.harden-*", SearchOption.AllDirectories);
        Assert.That(leftovers, Is.Empty, "no temp file is left half-written");
    }

    [Test]
    public async Task A_second_apply_at_the_same_time_fails_cleanly_on_the_lock()
    {
        var args = await WithOperatorAsync();
        var first = await StartSlowApplyAsync(args, 4);

        var second = await Harden(["apply", "--profile", "debian-hipaa", "--yes", "--lock-timeout", "1", .. args]);
        await first.WaitForExitAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.ExitCode, Is.EqualTo(1), second.ToString());
            Assert.That(second.Error, Does.Match($@"another harden run \(pid {first.Id}\) holds the lock"));
            Assert.That(first.ExitCode, Is.Zero, await first.StandardError.ReadToEndAsync());
        }
        var plan = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, "the first run completed intact: " + plan);
    }

    [TestCase("garbage", "has no well-formed public key")]
    [TestCase("dss", "has only ssh-dss keys")]
    [TestCase("writable", "which sshd's StrictModes refuses")]
    [TestCase("home", "so sshd's StrictModes refuses")]
    [TestCase("nologin", "has no login shell (/usr/sbin/nologin)")]
    [TestCase("expired", "is expired (fix: chage -E -1 alice)")]
    public async Task The_lockout_guard_checks_what_sshd_checks(string fault, string message)
    {
        var args = await WithOperatorAsync();
        var keys = Root.Map("/home/alice/.ssh/authorized_keys");
        switch (fault)
        {
            case "garbage": await File.WriteAllTextAsync(keys, "ssh-ed25519 not-a-key alice@test\n"); break;
            case "dss": await File.WriteAllTextAsync(keys, "ssh-dss AAAAB3NzaC1kc3MAAACBAP alice@test\n"); break;
            case "writable": File.SetUnixFileMode(keys, (UnixFileMode)Convert.ToInt32("664", 8)); break;
            case "home": File.SetUnixFileMode(Root.Map("/home/alice"), (UnixFileMode)Convert.ToInt32("777", 8)); break;
            case "nologin": Assert.That((await Root.Chroot("usermod", "-s", "/usr/sbin/nologin", "alice")).ExitCode, Is.Zero); break;
            case "expired": Assert.That((await Root.Chroot("usermod", "-e", "2001-01-01", "alice")).ExitCode, Is.Zero); break;
        }
        var before = await EtcAsync();

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.Error, Does.Contain("the operator (alice) could not log in afterwards").And.Contain(message));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task The_lockout_guard_looks_where_AuthorizedKeysFile_points()
    {
        var args = await WithOperatorAsync();
        var key = Root.ReadText("/home/alice/.ssh/authorized_keys");
        File.Delete(Root.Map("/home/alice/.ssh/authorized_keys"));
        Directory.CreateDirectory(Root.Map("/etc/ssh/keys"));
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/keys/alice"), key);
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config"), "AuthorizedKeysFile /etc/ssh/keys/%u\n" + Root.ReadText("/etc/ssh/sshd_config"));

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
    }
}
