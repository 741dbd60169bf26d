namespace Harden.Integration.Tests;

/// <summary>PHI folders with an owner account and mode from variables; records inside are never touched.</summary>
public sealed class PhiDirectoryTests : RootTest
{
    [Test]
    public async Task A_named_owner_is_created_the_mode_is_set_records_are_untouched_and_rollback_undoes_it()
    {
        var args = await WithOperatorAsync("--set", "phi_owner=phi-svc", "--set", "phi_directory_mode=0750",
            "--set", "phi_directories=/var/data/phi,/srv/records");
        Directory.CreateDirectory(Root.Map("/srv/records"));
        await File.WriteAllTextAsync(Root.Map("/srv/records/patient-1"), "record\n");
        File.SetUnixFileMode(Root.Map("/srv/records/patient-1"), (UnixFileMode)Convert.ToInt32("640", 8));
        Assert.That((await Root.Chroot("chown", "alice:alice", "/srv/records/patient-1")).ExitCode, Is.Zero);
        var before = await EtcAsync();

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.Out, Does.Contain("+ user:phi-svc  [phi-directories]  (create system account phi-svc (no login, no home))"));
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());

        var account = (await Root.Chroot("getent", "passwd", "phi-svc")).StandardOutput.Trim().Split(':');
        Assert.Multiple(async () =>
        {
            Assert.That(uint.Parse(account[2], System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(1000u), "a system account");
            Assert.That(account[6], Is.EqualTo("/usr/sbin/nologin"));
            foreach (var dir in (string[])["/var/data/phi", "/srv/records"])
            {
                Assert.That(File.GetUnixFileMode(Root.Map(dir)), Is.EqualTo((UnixFileMode)Convert.ToInt32("750", 8)), dir);
                Assert.That((await Root.Chroot("stat", "-c", "%U:%G", dir)).StandardOutput.Trim(), Is.EqualTo("phi-svc:phi-access"), dir);
            }
            Assert.That((await Root.Chroot("stat", "-c", "%U:%G %a", "/srv/records/patient-1")).StandardOutput.Trim(), Is.EqualTo("alice:alice 640"),
                "records inside are never touched");
        });

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That((await Root.Chroot("getent", "passwd", "phi-svc")).ExitCode, Is.Not.Zero, "the account the run made is gone");
        Assert.That((await Root.Chroot("stat", "-c", "%U:%G %a", "/srv/records")).StandardOutput.Trim(), Is.EqualTo("root:root 755"));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_mode_that_is_not_octal_is_refused()
    {
        var args = await WithOperatorAsync("--set", "phi_directory_mode=0999");
        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.EqualTo(1), plan.ToString());
        Assert.That(plan.Error, Does.Contain("value '0999' is not an octal mode"));
    }
}
