using System.Text.Json;

namespace Harden.Integration.Tests;

/// <summary>
/// harden evidence on the real Debian root: every subject in its own file, a command that is missing
/// recorded as such, SHA256SUMS that sha256sum -c verifies and that catches tampering, and a
/// signature ssh-keygen -Y verify accepts.
/// </summary>
public sealed class EvidenceTests : RootTest
{
    [Test]
    public async Task The_bundle_verifies_tampering_is_detected_and_the_signature_verifies()
    {
        var args = await WithOperatorAsync();
        // alice has a password as well as her key: password aging applies to it (a key-only account has none to age).
        Assert.That((await Root.ChrootWithInput("alice:Alice-pw-4711\n", "chpasswd")).ExitCode, Is.Zero);
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        // lastb gone from the image: the bundle must say so, not leave the subject out.
        File.Delete(Root.Map("/usr/bin/lastb"));

        var work = Directory.CreateTempSubdirectory("harden-evidence-");
        try
        {
            var key = Path.Combine(work.FullName, "auditor_key");
            var keygen = await DebianRoot.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "compliance@clinic.example", "-f", key]);
            Assert.That(keygen.ExitCode, Is.Zero, keygen.StandardError);
            var bundle = Path.Combine(work.FullName, "bundle");
            string[] checkArgs = ["--root", Root.Path, "--set", "ssh_allow_members=alice"];
            var run = await Harden(["evidence", "--profile", "debian-hipaa", "--out", bundle, "--sign", key, .. checkArgs]);
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Out, Does.Contain($"Evidence in {bundle}").And.Contain("failed-logins.txt (absent)"));

            string Read(string file) => File.ReadAllText(Path.Combine(bundle, file));
            Assert.That(Read("accounts.txt"), Does.Contain("alice:1000:/home/alice:/bin/bash"));
            Assert.That(Read("password-aging.txt"), Does.Contain("== alice").And.Contain("Maximum number of days between password change\t\t: 90"));
            Assert.That(Read("faillock.txt"), Does.Contain("deny = 5"));
            Assert.That(Read("audit-rules.txt"), Does.Contain("-k phi_access"));
            Assert.That(Read("sshd-effective.txt"), Does.Contain("passwordauthentication no"));
            Assert.That(Read("os-release.txt"), Does.Contain("VERSION_ID=\"12\""));
            Assert.That(Read("failed-logins.txt"), Does.Contain("# exit 127 (the program is not installed)"));
            Assert.That(Read("listening-ports.txt"), Does.Contain("offline root"), "a running host's view is not invented for an image");
            Assert.That(Read("runs.txt"), Does.Contain("debian-hipaa  completed"));
            Assert.That(Directory.GetFiles(Path.Combine(bundle, "runs"), "*.json"), Has.Length.EqualTo(1));
            await CheckTests.AssertValidJsonAsync(Read("check.json"));

            using var manifest = JsonDocument.Parse(Read("manifest.json"));
            Assert.That(manifest.RootElement.GetProperty("profile").GetString(), Is.EqualTo("debian-hipaa"));
            var items = manifest.RootElement.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("file").GetString()!, i => i.Clone());
            Assert.That(items["failed-logins.txt"].GetProperty("status").GetString(), Is.EqualTo("absent"));
            Assert.That(items["failed-logins.txt"].GetProperty("exit_code").GetInt32(), Is.EqualTo(127));
            Assert.That(items["sshd-effective.txt"].GetProperty("status").GetString(), Is.EqualTo("ok"));

            var sums = await Sha256Check(bundle);
            Assert.That(sums.ExitCode, Is.Zero, sums.StandardOutput + sums.StandardError);
            Assert.That(sums.StandardOutput, Does.Contain("manifest.json: OK").And.Contain("runs/"));
            var allowed = Path.Combine(work.FullName, "allowed_signers");
            await File.WriteAllTextAsync(allowed, $"compliance@clinic.example {(await File.ReadAllTextAsync(key + ".pub")).Trim()}\n");
            Assert.That((await Verify(bundle, allowed)).ExitCode, Is.Zero, "the signature verifies");

            // Tampering: a changed file fails sha256sum -c; changed sums fail the signature.
            await File.AppendAllTextAsync(Path.Combine(bundle, "accounts.txt"), "mallory:0:/root:/bin/bash\n");
            var tampered = await Sha256Check(bundle);
            Assert.That(tampered.ExitCode, Is.Not.Zero);
            Assert.That(tampered.StandardOutput, Does.Contain("accounts.txt: FAILED"));
            var sumsFile = Path.Combine(bundle, "SHA256SUMS");
            var lines = (await File.ReadAllLinesAsync(sumsFile)).Select(l => l.EndsWith("  accounts.txt", StringComparison.Ordinal)
                ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(bundle, "accounts.txt")))) + "  accounts.txt" : l);
            await File.WriteAllLinesAsync(sumsFile, lines);
            Assert.That((await Sha256Check(bundle)).ExitCode, Is.Zero, "the forger fixed the sums");
            var forged = await Verify(bundle, allowed);
            Assert.That(forged.ExitCode, Is.Not.Zero, "but the signature no longer verifies");

            var again = await Harden(["evidence", "--profile", "debian-hipaa", "--out", bundle, .. checkArgs]);
            Assert.That(again.ExitCode, Is.EqualTo(1));
            Assert.That(again.Error, Does.Contain("exists and is not empty"));
            Assert.That(Directory.GetDirectories(work.FullName, ".bundle.tmp-*"), Is.Empty, "no half-written bundle is left behind");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static Task<CliWrap.Buffered.BufferedCommandResult> Sha256Check(string bundle) =>
        CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
            CliWrap.Cli.Wrap("sha256sum").WithArguments(["-c", "SHA256SUMS"]).WithWorkingDirectory(bundle).WithValidation(CliWrap.CommandResultValidation.None));

    private static Task<CliWrap.Buffered.BufferedCommandResult> Verify(string bundle, string allowed) =>
        CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
            CliWrap.Cli.Wrap("ssh-keygen").WithArguments(["-Y", "verify", "-f", allowed, "-I", "compliance@clinic.example", "-n", "harden-evidence", "-s", Path.Combine(bundle, "SHA256SUMS.sig")])
                .WithStandardInputPipe(CliWrap.PipeSource.FromFile(Path.Combine(bundle, "SHA256SUMS"))).WithValidation(CliWrap.CommandResultValidation.None));
}
