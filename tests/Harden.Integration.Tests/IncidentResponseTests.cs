using System.Text.RegularExpressions;

namespace Harden.Integration.Tests;

/// <summary>The incident-response script: clean under shellcheck, and run for real inside the root.</summary>
public sealed class IncidentResponseTests : RootTest
{
    private const string Script = "/usr/local/bin/hipaa-incident-response.sh";

    [Test]
    public async Task The_script_passes_shellcheck_runs_in_the_root_and_seals_its_evidence()
    {
        var args = await WithOperatorAsync();
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(File.GetUnixFileMode(Root.Map(Script)), Is.EqualTo((UnixFileMode)Convert.ToInt32("750", 8)));

        var shellcheck = await DebianRoot.Run("shellcheck", ["--severity=style", Root.Map(Script)]);
        Assert.That(shellcheck.ExitCode, Is.Zero, shellcheck.StandardOutput);

        // One PHI record changed within the window, one long before it.
        await File.WriteAllTextAsync(Root.Map("/var/data/phi/record-new"), "changed today\n");
        await File.WriteAllTextAsync(Root.Map("/var/data/phi/record-old"), "untouched\n");
        File.SetLastWriteTimeUtc(Root.Map("/var/data/phi/record-old"), DateTime.UtcNow.AddDays(-3));

        var run = await Root.Chroot(Script, "24");
        Assert.That(run.ExitCode, Is.Zero, run.StandardOutput + run.StandardError);
        var folder = Regex.Match(run.StandardOutput, @"Evidence preserved in (\S+) ").Groups[1].Value;
        Assert.That(folder, Does.StartWith("/var/log/hipaa-incidents/"));

        var evidence = Root.Map(folder);
        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(Root.Map("/var/log/hipaa-incidents")), Is.EqualTo((UnixFileMode)Convert.ToInt32("700", 8)));
            Assert.That(File.GetUnixFileMode(evidence), Is.EqualTo((UnixFileMode)Convert.ToInt32("700", 8)));
            Assert.That(Directory.GetFiles(evidence).Select(Path.GetFileName), Is.SupersetOf(new[]
            {
                "SHA256SUMS", "active_sessions.txt", "auth_events.txt", "phi_access_audit.txt", "network_connections.txt", "recently_modified_phi_files.txt",
            }));
            Assert.That(File.ReadAllText(Path.Combine(evidence, "recently_modified_phi_files.txt")),
                Does.Contain("/var/data/phi/record-new").And.Not.Contain("record-old"));
            Assert.That(Directory.GetFiles(evidence).Select(File.GetUnixFileMode), Is.All.EqualTo(UnixFileMode.UserRead));
            Assert.That(Directory.GetFiles(evidence, ".*"), Is.Empty, "the window's reference file is gone");
        });
        // The checksums verify, with the root's own sha256sum.
        var verify = await Root.Chroot("sh", "-c", $"cd '{folder}' && sha256sum -c SHA256SUMS");
        Assert.That(verify.ExitCode, Is.Zero, verify.StandardOutput + verify.StandardError);
        Assert.That(Regex.Matches(verify.StandardOutput, ": OK$", RegexOptions.Multiline), Has.Count.GreaterThanOrEqualTo(6));

        var refused = await Root.Chroot(Script, "not-a-number");
        Assert.That(refused.ExitCode, Is.EqualTo(64), "a bad argument is refused with usage");
    }
}
