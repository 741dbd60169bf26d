namespace Harden.Integration.Tests;

/// <summary>
/// Values and host files that used to make harden exit 0 and leave a host worse off (issue "Safety,
/// round 3"), each tried in several variants on a real root, checked with the root's own tools.
/// </summary>
public sealed class SafetyRoundThreeTests : RootTest
{
    /// <summary>
    /// A home folder written as "/home/" (or "/home//", "//home", "/home/.") is /home to the kernel.
    /// Compared as a string it once made apply tighten /home itself to 0750, after which sshd could
    /// read nobody's authorized_keys.
    /// </summary>
    [TestCase("/home/")]
    [TestCase("/home//")]
    [TestCase("//home")]
    [TestCase("/home/.")]
    public async Task A_home_written_as_home_itself_never_tightens_home_and_key_logins_still_work(string home)
    {
        var args = await WithOperatorAsync();
        var key = await LiveSshd.InstallKeyAsync(Root, "alice");
        Assert.That((await Root.Chroot("useradd", "-M", "-d", home, "-s", "/bin/bash", "eve")).ExitCode, Is.Zero);
        var before = File.GetUnixFileMode(Root.Map("/home"));

        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(File.GetUnixFileMode(Root.Map("/home")), Is.EqualTo(before), "/home keeps its mode");
        Assert.That(apply.Out, Does.Not.Contain("mode:/home "));
        Assert.That(File.GetUnixFileMode(Root.Map("/home/alice")), Is.EqualTo((UnixFileMode)Convert.ToInt32("750", 8)), "a real home below /home is still tightened");

        await using var sshd = await LiveSshd.StartAsync(Root);
        var login = await sshd.LoginWithKeyAsync("alice", key, "id -un");
        Assert.That(login.Succeeded, $"{login}\n{sshd.Log}");
    }

    /// <summary>Times of day are checked the way systemd reads OnCalendar, before anything is written.</summary>
    [Test]
    public async Task Timer_times_systemd_cannot_read_are_refused_before_any_write_and_those_it_reads_are_taken()
    {
        var args = await WithOperatorAsync("--set", "drift_check=true");
        var etc = await EtcAsync();
        foreach (var bad in new[] { "99:99", "25:00", "4", "12:60", "24:00", "04:00:61", "noon" })
        {
            var calendar = await Root.Chroot("systemd-analyze", "calendar", $"*-*-* {bad}");
            Assert.That(calendar.ExitCode, Is.Not.Zero, $"systemd refuses '{bad}' too");
            foreach (var variable in new[] { "drift_check_time", "clamav_scan_time", "backup_time", "automatic_reboot_time" })
            {
                var plan = await Harden(["plan", .. args, "--set", $"{variable}={bad}"]);
                Assert.That(plan.ExitCode, Is.EqualTo(1), $"{variable}={bad}: {plan}");
                Assert.That(plan.Error, Does.Contain($"variable '{variable}' (time): value '{bad}'"));
            }
        }
        foreach (var good in new[] { "4:00", "04:00", "23:59", "00:00:30", "1:2" })
        {
            var calendar = await Root.Chroot("systemd-analyze", "calendar", $"*-*-* {good}");
            Assert.That(calendar.ExitCode, Is.Zero, $"systemd takes '{good}'");
            var apply = await Harden(["plan", .. args, "--set", $"drift_check_time={good}"]);
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        }
        AssertUnchanged(etc, await EtcAsync());

        // And what is written is what systemd loads: the unit the accepted value renders verifies.
        var applied = await Harden(["apply", "--yes", "--root", Root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice", "--set", "clamav=true", "--set", "clamav_scan_time=4:05"]);
        Assert.That(applied.ExitCode, Is.Zero, applied.ToString());
        Assert.That(Root.ReadText("/etc/systemd/system/hipaa-clamscan.timer"), Does.Contain("OnCalendar=*-*-* 04:05"));
        var verify = await Root.Chroot("systemd-analyze", "calendar", "*-*-* 04:05");
        Assert.That(verify.ExitCode, Is.Zero);
    }
}
