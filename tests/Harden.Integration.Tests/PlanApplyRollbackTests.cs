using System.Text.Json;

namespace Harden.Integration.Tests;

/// <summary>The whole product path on a real Debian 12 root, checked with the real tools.</summary>
public sealed class PlanApplyRollbackTests : RootTest
{
    private static readonly (string Key, string Value)[] SshdSettings =
    [
        ("permitrootlogin", "no"), ("passwordauthentication", "no"), ("pubkeyauthentication", "yes"),
        ("maxauthtries", "3"), ("clientaliveinterval", "300"), ("clientalivecountmax", "1"),
        ("allowgroups", "phi-access"), ("banner", "/etc/ssh/hipaa-banner.txt"), ("permitemptypasswords", "no"),
        ("ignorerhosts", "yes"), ("hostbasedauthentication", "no"), ("permituserenvironment", "no"),
        ("x11forwarding", "no"), ("loglevel", "VERBOSE"),
        ("ciphers", "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"),
        ("macs", "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"),
    ];

    [Test]
    public async Task Plan_writes_nothing_and_reports_pending_changes()
    {
        var args = await WithOperatorAsync();
        var before = await Tree.CaptureAsync(Root.Path);

        var plan = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);

        Assert.That(await Tree.CaptureAsync(Root.Path) is var after && before.Differences(after).Count == 0, Is.True,
            string.Join("\n", before.Differences(await Tree.CaptureAsync(Root.Path))));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.ExitCode, Is.EqualTo(2), plan.ToString());
            Assert.That(plan.Out, Does.Contain("+ /etc/ssh/sshd_config.d/00-hipaa.conf"));
            Assert.That(plan.Out, Does.Contain("~ /etc/issue.net"));
            Assert.That(plan.Out, Does.Contain("-Debian GNU/Linux 12"), "the diff shows the old banner line");
            Assert.That(plan.Out, Does.Contain("+ group:phi-access  [ssh]"));
            Assert.That(plan.Out, Does.Contain("+ member:phi-access/alice  [ssh]"));
            Assert.That(plan.Out, Does.Contain("reload-ssh: skipped, runtime-only"));
            Assert.That(plan.Out, Does.Contain("log-forwarding: log_server is not set"));
            Assert.That(plan.Out, Does.Contain("+ /usr/share/pam-configs/hipaa-faillock  [account-lockout]"));
            Assert.That(plan.Out, Does.Contain("+ dir:/opt/healthcare-app  [app-directories] 0750 root:root  (new directory)"));
            Assert.That(plan.Out, Does.Contain("$ pam-auth-update --package   (pam-auth-update, for account-lockout, password-history)"));
            Assert.That(plan.Out, Does.Match(@"Plan: \d+ to create, \d+ to update, 0 to remove, \d+ unchanged"));
        }
    }

    [Test]
    public async Task Apply_converges_and_the_real_tools_agree()
    {
        var args = await WithOperatorAsync("--set", "log_server=logs.example.org");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());

        var effective = await Root.EffectiveSshdAsync();
        using (Assert.EnterMultipleScope())
        {
            foreach (var (key, value) in SshdSettings)
                Assert.That(effective[key], Is.EqualTo(value).IgnoreCase, key);
        }

        var rsyslog = await Root.Chroot("rsyslogd", "-N1");
        var augenrules = await Root.Chroot("augenrules", "--check");
        await DebianRoot.EnsurePackagesAsync("shellcheck");
        var shellcheck = await DebianRoot.Run("shellcheck", [Root.Map("/etc/profile.d/hipaa-timeout.sh")]);
        var twice = await Root.Chroot("bash", "-c", ". /etc/profile.d/hipaa-timeout.sh; . /etc/profile.d/hipaa-timeout.sh; echo \"TMOUT=$TMOUT\"; (TMOUT=0) 2>/dev/null; echo \"after=$TMOUT\"");
        var compiled = Root.ReadText("/etc/audit/audit.rules");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rsyslog.ExitCode, Is.Zero, rsyslog.StandardError + rsyslog.StandardOutput);
            Assert.That(augenrules.StandardOutput + augenrules.StandardError, Does.Contain("No change"));
            Assert.That(compiled, Does.Contain("-a always,exit -F arch=b32 -S execve -F euid=0 -k root_commands"));
            Assert.That(compiled, Does.Contain("-w /var/data/phi -p rwxa -k phi_access"));
            Assert.That(shellcheck.ExitCode, Is.Zero);
            Assert.That(twice.StandardError, Is.Empty, "sourcing the timeout twice must print nothing");
            Assert.That(twice.StandardOutput, Does.Contain("TMOUT=900").And.Contain("after=900"));
            Assert.That(Root.ReadText("/etc/rsyslog.d/60-hipaa-remote.conf"), Does.Contain("StreamDriver=\"gtls\"").And.Contain("queue.filename"));
            Assert.That(Root.ReadText("/etc/ssh/hipaa-banner.txt"), Does.Contain("AUTHORIZED ACCESS ONLY"));
            Assert.That(Root.ReadText("/etc/issue.net"), Does.Not.Contain("Debian"));
            Assert.That(Root.ReadText("/etc/security/pwquality.conf"), Does.Contain("minlen = 14").And.Contain("enforce_for_root"));
            Assert.That(File.GetUnixFileMode(Root.Map("/etc/audit/rules.d/hipaa.rules")), Is.EqualTo((UnixFileMode)Convert.ToInt32("640", 8)));
            Assert.That(File.GetUnixFileMode(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.EqualTo((UnixFileMode)Convert.ToInt32("644", 8)));
            Assert.That(Root.ReadText("/etc/group"), Does.Match(@"(?m)^phi-access:x:\d+:alice$"));
        }
    }

    [Test]
    public async Task Second_plan_and_second_apply_change_nothing()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        var runs = Directory.GetDirectories(Root.Map("/var/lib/harden/runs"));
        var mtimes = await Tree.CaptureAsync(Root.Map("/etc"));
        var stamps = Directory.EnumerateFiles(Root.Map("/etc"), "*", SearchOption.AllDirectories)
            .Where(p => new FileInfo(p).LinkTarget is null).ToDictionary(p => p, File.GetLastWriteTimeUtc);

        var plan = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        var again = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
            Assert.That(plan.Out, Does.Contain("No changes."));
            Assert.That(again.ExitCode, Is.Zero, again.ToString());
            Assert.That(again.Out, Does.Contain("No changes."));
            Assert.That(Directory.GetDirectories(Root.Map("/var/lib/harden/runs")), Is.EquivalentTo(runs), "a no-op apply records no run");
            AssertUnchanged(mtimes, await Tree.CaptureAsync(Root.Map("/etc")));
            var touched = stamps.Where(kv => File.GetLastWriteTimeUtc(kv.Key) != kv.Value).Select(kv => kv.Key);
            Assert.That(touched, Is.Empty, "a second apply writes nothing");
        }
    }

    [Test]
    public async Task Rollback_restores_every_byte_mode_and_owner_and_removes_created_files()
    {
        var args = await WithOperatorAsync("--set", "log_server=logs.example.org");
        File.SetUnixFileMode(Root.Map("/etc/issue.net"), (UnixFileMode)Convert.ToInt32("600", 8));
        var before = await EtcAsync();

        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        Assert.That(File.GetUnixFileMode(Root.Map("/etc/issue.net")), Is.EqualTo((UnixFileMode)Convert.ToInt32("644", 8)));
        // A no-op apply in between records no run, so rollback still undoes the real change.
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");

        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        AssertUnchanged(before, await EtcAsync());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.False);
            Assert.That(File.Exists(Root.Map("/etc/rsyslog.d/60-hipaa-remote.conf")), Is.False);
            Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).Error, Does.Contain("nothing to roll back"));
        }
    }

    [Test]
    public async Task Json_plan_is_one_document_and_a_saved_plan_applies_until_the_host_moves_on()
    {
        var args = await WithOperatorAsync();
        var planFile = Path.Combine(Root.Path, "..", Path.GetFileName(Root.Path) + ".plan.json");
        try
        {
            var json = await Harden(["plan", "--profile", "debian-hipaa", "--format", "json", "--out", planFile, .. args]);
            using var doc = JsonDocument.Parse(json.Out);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(json.ExitCode, Is.Zero, json.ToString());
                Assert.That(doc.RootElement.GetProperty("format_version").GetInt32(), Is.EqualTo(2));
                Assert.That(doc.RootElement.GetProperty("changes").GetArrayLength(), Is.GreaterThanOrEqualTo(10));
                Assert.That(File.GetUnixFileMode(planFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "a saved plan is private");
            }

            // The host moves on: the saved plan is refused as stale, and nothing is written.
            await File.AppendAllTextAsync(Root.Map("/etc/issue.net"), "edited\n");
            var before = await EtcAsync();
            var stale = await Harden("apply", planFile, "--yes");
            Assert.That(stale.ExitCode, Is.EqualTo(1));
            Assert.That(stale.Error, Does.Contain("stale plan").And.Contain("/etc/issue.net"));
            AssertUnchanged(before, await EtcAsync());

            // A fresh saved plan applies.
            Assert.That((await Harden(["plan", "--profile", "debian-hipaa", "--out", planFile, .. args])).ExitCode, Is.Zero);
            var applied = await Harden("apply", planFile, "--yes");
            Assert.That(applied.ExitCode, Is.Zero, applied.ToString());
            Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.True);
        }
        finally
        {
            File.Delete(planFile);
        }
    }
}
