using System.Text.RegularExpressions;

namespace Harden.Integration.Tests;

/// <summary>
/// Backups with a real restic repository inside the root: the units pass systemd-analyze verify, and
/// the units' own commands make a backup, check the repository and restore it (a full round trip).
/// </summary>
public sealed class BackupTests : RootTest
{
    private const string Repository = "/srv/restic-repo";
    private const string PasswordFile = "/etc/restic/password";

    private static readonly string[] Units =
    [
        "/etc/systemd/system/hipaa-backup.service", "/etc/systemd/system/hipaa-backup.timer",
        "/etc/systemd/system/hipaa-backup-check.service", "/etc/systemd/system/hipaa-backup-check.timer",
        "/etc/systemd/system/hipaa-restore-test.service", "/etc/systemd/system/hipaa-restore-test.timer",
    ];

    /// <summary>The ExecStart of an installed unit, run inside the root with the unit's Environment= lines (systemd cannot run in a chroot).</summary>
    private async Task<CliWrap.Buffered.BufferedCommandResult> RunUnitAsync(string unit)
    {
        var text = Root.ReadText(unit);
        var env = Regex.Matches(text, "(?m)^Environment=(\\S+)$").Select(m => m.Groups[1].Value);
        var exec = Regex.Match(text, "(?m)^ExecStart=(.+)$").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return await Root.Chroot(["env", .. env, .. exec]);
    }

    [Test]
    public async Task Plan_warns_about_a_missing_or_readable_password_file()
    {
        var args = await WithOperatorAsync("--set", $"backup_repository={Repository}", "--set", $"backup_password_file={PasswordFile}");
        var missing = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(missing.Out, Does.Contain($"warning: module backups: {PasswordFile} does not exist"));
        Directory.CreateDirectory(Root.Map("/etc/restic"));
        await File.WriteAllTextAsync(Root.Map(PasswordFile), "correct horse battery staple\n");
        File.SetUnixFileMode(Root.Map(PasswordFile), (UnixFileMode)Convert.ToInt32("644", 8));
        var readable = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(readable.Out, Does.Contain($"warning: module backups: {PasswordFile} is 0644").And.Contain("chmod 0600"));
        Assert.That(readable.Out, Does.Not.Contain("correct horse"), "the secret never reaches the plan");
    }

    [Test]
    public async Task Units_verify_and_a_backup_check_and_test_restore_round_trip_succeeds()
    {
        Directory.CreateDirectory(Root.Map("/etc/restic"));
        await File.WriteAllTextAsync(Root.Map(PasswordFile), "correct horse battery staple\n");
        File.SetUnixFileMode(Root.Map(PasswordFile), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var init = await Root.Chroot("restic", "init", "--repo", Repository, "--password-file", PasswordFile);
        Assert.That(init.ExitCode, Is.Zero, init.StandardError);
        var args = await WithOperatorAsync("--set", $"backup_repository={Repository}", "--set", $"backup_password_file={PasswordFile}");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("checking /etc/systemd/system/hipaa-backup.service (systemd)"));
        Assert.That(apply.Out, Does.Not.Contain("warning: module backups"));

        var verify = await Root.Chroot(["systemd-analyze", "verify", .. Units]);
        Assert.That(verify.ExitCode, Is.Zero, verify.StandardOutput + verify.StandardError);
        foreach (var timer in (string[])["hipaa-backup.timer", "hipaa-backup-check.timer", "hipaa-restore-test.timer"])
            Assert.That((await Root.Chroot("systemctl", "is-enabled", timer)).StandardOutput.Trim(), Is.EqualTo("enabled"), timer);

        await File.WriteAllTextAsync(Root.Map("/var/data/phi/record-1"), "patient 1\n");
        var backup = await RunUnitAsync("/etc/systemd/system/hipaa-backup.service");
        Assert.That(backup.ExitCode, Is.Zero, backup.StandardOutput + backup.StandardError);
        var snapshots = await Root.Chroot("restic", "--repo", Repository, "--password-file", PasswordFile, "snapshots", "--json");
        Assert.That(snapshots.StandardOutput, Does.Contain("\"/var/data/phi\"").And.Contain("\"hipaa\""));

        var check = await RunUnitAsync("/etc/systemd/system/hipaa-backup-check.service");
        Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
        Assert.That(check.StandardOutput, Does.Contain("no errors were found"));

        var restore = await RunUnitAsync("/etc/systemd/system/hipaa-restore-test.service");
        Assert.That(restore.ExitCode, Is.Zero, restore.StandardOutput + restore.StandardError);
        Assert.That(restore.StandardOutput, Does.Contain("restore test passed: 1 file(s) of /var/data/phi"));
        Assert.That(Root.ReadText("/var/log/hipaa-backup/restore-tests.log"), Does.Contain("restore test passed"));
        Assert.That(Directory.GetDirectories(Root.Map("/var/tmp"), "hipaa-restore-test.*"), Is.Empty, "the scratch folder is removed");

        var shellcheck = await DebianRoot.Run("shellcheck", [Root.Map("/usr/local/sbin/hipaa-restore-test")]);
        Assert.That(shellcheck.ExitCode, Is.Zero, shellcheck.StandardOutput);

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, "second plan: nothing to do\n" + again);
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Units.Where(u => File.Exists(Root.Map(u))), Is.Empty, "rollback removes the units");
        var wants = Root.Map("/etc/systemd/system/timers.target.wants");
        Assert.That(Directory.Exists(wants) ? Directory.GetFileSystemEntries(wants, "hipaa-*") : [], Is.Empty, "and disables the timers");
    }
}
