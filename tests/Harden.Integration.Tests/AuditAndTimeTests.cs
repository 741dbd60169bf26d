namespace Harden.Integration.Tests;

/// <summary>
/// Audit retention and rules, time sync and the FTP switch, checked with the root's own tools:
/// augenrules' compiled audit.rules, chronyd -p, systemctl is-enabled under chroot.
/// </summary>
public sealed class AuditAndTimeTests : RootTest
{
    [Test]
    public async Task Audit_retention_immutable_rules_and_time_servers_apply_check_and_roll_back()
    {
        var args = await WithOperatorAsync("--set", "audit_immutable=true", "--set", "time_servers=ntp1.example.org,ntp2.example.org",
            "--set", "audit_disk_full_action=HALT");
        var before = await EtcAsync();
        var auditdBefore = Root.ReadText("/etc/audit/auditd.conf");

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain("warning: /etc/audit/rules.d/hipaa.rules makes the audit rules immutable (-e 2)"));
        Assert.That(plan.Out, Does.Contain("(max_log_file_action ROTATE -> KEEP_LOGS)").And.Contain("(disk_full_action SUSPEND -> HALT)"));

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("checking /etc/chrony/sources.d/hipaa.sources (chrony)"));

        var auditd = Root.ReadText("/etc/audit/auditd.conf");
        Assert.That(auditd, Does.Contain("\nmax_log_file_action = KEEP_LOGS\n").And.Contain("\ndisk_full_action = HALT\n")
            .And.Contain("\nspace_left_action = SYSLOG\n").And.Contain("\nlog_group = adm\n"));
        Assert.That(auditd.Split('\n').Length, Is.EqualTo(auditdBefore.Split('\n').Length), "only values changed; every other line kept");

        // augenrules compiled the rules the kernel would load: deletions include renameat2 and rmdir, -e 2 is last.
        var compiled = Root.ReadText("/etc/audit/audit.rules").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();
        Assert.That(compiled, Has.Some.Contains("-S renameat2").And.Some.Contains("-S rmdir"));
        Assert.That(compiled[^1], Is.EqualTo("-e 2"), "immutable must be the very last rule");

        var sources = Root.ReadText("/etc/chrony/sources.d/hipaa.sources");
        Assert.That(sources, Does.Contain("server ntp1.example.org iburst\nserver ntp2.example.org iburst\n"));
        var parsed = await Root.Chroot("chronyd", "-p", "-f", "/etc/chrony/sources.d/hipaa.sources");
        Assert.That(parsed.ExitCode, Is.Zero, parsed.StandardError);
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "chrony.service")).StandardOutput.Trim(), Is.EqualTo("enabled"));

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, "second plan: nothing to do\n" + again);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Root.ReadText("/etc/audit/auditd.conf"), Is.EqualTo(auditdBefore));
        var after = await EtcAsync();
        // alice and her group membership are the test's own; everything harden touched is back.
        AssertUnchanged(before, after);
    }

    /// <summary>A watch on a missing folder stops auditd loading the rules after it: missing app folders are made, existing ones left alone.</summary>
    [Test]
    public async Task Missing_application_folders_are_made_and_existing_ones_are_never_changed()
    {
        var args = await WithOperatorAsync("--set", "app_directories=/opt/healthcare-app,/srv/ehr");
        Directory.CreateDirectory(Root.Map("/opt/healthcare-app"));
        File.SetUnixFileMode(Root.Map("/opt/healthcare-app"), (UnixFileMode)Convert.ToInt32("775", 8));
        Assert.That((await Root.Chroot("chown", "alice:alice", "/opt/healthcare-app")).ExitCode, Is.Zero);

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.Multiple(async () =>
        {
            Assert.That((await Root.Chroot("stat", "-c", "%U:%G %a", "/opt/healthcare-app")).StandardOutput.Trim(), Is.EqualTo("alice:alice 775"));
            Assert.That((await Root.Chroot("stat", "-c", "%U:%G %a", "/srv/ehr")).StandardOutput.Trim(), Is.EqualTo("root:root 750"));
            Assert.That(Root.ReadText("/etc/audit/audit.rules"), Does.Contain("-w /srv/ehr -p rwxa -k app_access"));
        });
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Directory.Exists(Root.Map("/srv/ehr")), Is.False, "the folder the run made is gone");
        Assert.That(Directory.Exists(Root.Map("/opt/healthcare-app")), Is.True);
    }

    /// <summary>
    /// A clinic profile that manages the folders itself (no phi-directories or app-directories
    /// module): on a stock host /var/data does not exist, and the kernel would refuse that watch and
    /// stop loading every rule after it. The watch is left out and named; the others load.
    /// </summary>
    [Test]
    public async Task A_watch_on_a_folder_that_does_not_exist_is_left_out_and_named()
    {
        var args = await WithOperatorAsync();
        var dir = Directory.CreateTempSubdirectory("harden-profile-").FullName;
        try
        {
            var profile = Path.Combine(dir, "clinic.yaml");
            await File.WriteAllTextAsync(profile, "name: clinic\nextends: debian-hipaa\nremove_modules: [phi-directories, app-directories]\n");
            var plan = await Harden(["plan", "--profile", profile, .. args]);
            Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
            Assert.That(plan.Out, Does.Contain("the audit watch on /var/data/phi is left out of /etc/audit/rules.d/hipaa.rules: its folder /var/data does not exist"));
            var apply = await Harden(["apply", "--yes", "--profile", profile, .. args]);
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
            var compiled = Root.ReadText("/etc/audit/audit.rules");
            Assert.That(compiled, Does.Not.Contain("-w /var/data/phi").And.Contain("-w /etc/passwd -p wa -k user_changes"), "augenrules compiled the rest");

            Directory.CreateDirectory(Root.Map("/var/data/phi"));
            var again = await Harden(["apply", "--yes", "--profile", profile, .. args]);
            Assert.That(again.ExitCode, Is.Zero, again.ToString());
            Assert.That(Root.ReadText("/etc/audit/audit.rules"), Does.Contain("-w /var/data/phi -p rwxa -k phi_access"), "back once the folder exists");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Ftp_servers_are_removed_unless_allowed()
    {
        var args = await WithOperatorAsync();
        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain("= package:vsftpd  [no-ftp]"));
        var allowed = await Harden(["plan", "--profile", "debian-hipaa", "--set", "allow_ftp=true", .. args]);
        Assert.That(allowed.Out, Does.Not.Contain("package:vsftpd").And.Contain("no-ftp: allow_ftp is set"));
    }
}
