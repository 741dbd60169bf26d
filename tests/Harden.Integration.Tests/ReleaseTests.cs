using System.Text.RegularExpressions;

namespace Harden.Integration.Tests;

/// <summary>
/// The shipped profile on every Debian release it supports, each a real mmdebstrap root of that
/// release: harden picks the profile from os-release, applies, verifies with that release's own
/// sshd -T, pam-auth-update and augenrules, has nothing left to do, and rolls back to the exact
/// prior /etc. Release differences (OpenSSH 8.4's algorithms, audit 3.0's ausyscall) live in the
/// profile and the checks, not in test switches.
/// </summary>
[TestFixtureSource(typeof(DebianRoot), nameof(DebianRoot.Suites))]
public sealed class ReleaseTests(string suite)
{
    private DebianRoot _root = null!;

    [SetUp]
    public async Task UnpackRoot()
    {
        if (Environment.UserName != "root") Assert.Ignore("integration tests chroot into a Debian root, which needs root");
        _root = await DebianRoot.CreateAsync(suite);
    }

    [TearDown]
    public void RemoveRoot() => _root?.Dispose();

    [Test]
    public async Task Apply_picks_the_profile_verifies_is_idempotent_and_rolls_back_exactly()
    {
        await _root.AddUserAsync("alice", withKey: true);
        var args = (string[])["--root", _root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice"];
        var before = await Tree.CaptureAsync(_root.Map("/etc"));
        var version = Regex.Match(_root.ReadText("/usr/lib/os-release"), "(?m)^VERSION_ID=\"?([0-9.]+)").Groups[1].Value;

        var plan = await HardenCli.RunAsync(["plan", .. args]);
        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain($"(debian {version}); no --profile given, so debian-hipaa"));

        var apply = await HardenCli.RunAsync(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("verified").And.Contain("sshd settings with sshd -T"));

        var sshd = await _root.EffectiveSshdAsync();
        var auth = _root.ReadText("/etc/pam.d/common-auth");
        var chage = (await _root.Chroot("chage", "-l", "alice")).StandardOutput;
        // moduli's fifth field is the group size in bits minus one.
        var moduli = _root.ReadText("/etc/ssh/moduli").Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(sshd["passwordauthentication"], Is.EqualTo("no"));
            Assert.That(sshd["permitrootlogin"], Is.EqualTo("no"));
            Assert.That(sshd["allowgroups"], Is.EqualTo("phi-access"));
            Assert.That(sshd["kexalgorithms"], Does.StartWith("curve25519-sha256").Or.StartWith("sntrup761x25519-sha512"));
            Assert.That(sshd["hostkey"], Is.EqualTo("/etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_rsa_key"), "no ECDSA or DSA host key offered");
            Assert.That(sshd["compression"], Is.EqualTo("no"));
            Assert.That(moduli, Is.Not.Empty.And.All.GreaterThanOrEqualTo(3071), "no Diffie-Hellman group under 3072 bits");
            Assert.That(_root.ReadText("/etc/ssh/moduli"), Does.StartWith("#"), "comments are kept");
            Assert.That(auth, Does.Match(@"(?s)pam_faillock\.so preauth.*pam_unix\.so.*pam_faillock\.so authfail"));
            Assert.That(_root.ReadText("/etc/audit/audit.rules"), Does.Contain("-k phi_access"), "augenrules compiled the rules");
            Assert.That(chage, Does.Match(@"Maximum number of days between password change\s*:\s*90"));
        });

        var again = await HardenCli.RunAsync(["plan", "--detailed-exitcode", .. args]);
        Assert.That(again.ExitCode, Is.Zero, "a second plan has nothing to do\n" + again);

        var rollback = await HardenCli.RunAsync("rollback", "--root", _root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        var differences = before.Differences(await Tree.CaptureAsync(_root.Map("/etc")));
        Assert.That(differences, Is.Empty, string.Join("\n", differences));
    }

    /// <summary>
    /// Log forwarding over TLS 1.2+ with a client certificate, accepted by this release's own
    /// rsyslogd -N1 (Debian 11's rsyslog takes the TLS files globally, later ones per action).
    /// </summary>
    [Test]
    public async Task Tls_log_forwarding_with_a_client_certificate_passes_this_releases_rsyslogd()
    {
        await _root.AddUserAsync("alice", withKey: true);
        // rsyslogd -N1 checks these files can be read; their content is only read when connecting.
        Directory.CreateDirectory(_root.Map("/etc/ssl/certs"));
        foreach (var file in (string[])["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/clinic-client.pem", "/etc/ssl/clinic-client.key"])
        {
            if (!File.Exists(_root.Map(file))) await File.WriteAllTextAsync(_root.Map(file), "placeholder\n");
        }
        var apply = await HardenCli.RunAsync("apply", "--yes", "--root", _root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice",
            "--set", "log_server=logs.example.org", "--set", "log_client_cert=/etc/ssl/clinic-client.pem", "--set", "log_client_key=/etc/ssl/clinic-client.key");
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("checking the staged rsyslog configuration (rsyslogd -N1"));
        var conf = _root.ReadText("/etc/rsyslog.d/60-hipaa-remote.conf");
        Assert.That(conf, Does.Contain("gnutlsPriorityString=\"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:").And.Contain("/etc/ssl/clinic-client.pem"));
        var check = await _root.Chroot("rsyslogd", "-N1");
        Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
    }

    [Test]
    public async Task A_profile_for_another_release_is_refused_unless_forced()
    {
        var refused = await HardenCli.RunAsync("plan", "--profile", "ubuntu-hipaa", "--root", _root.Path);
        Assert.That(refused.ExitCode, Is.EqualTo(1), refused.ToString());
        Assert.That(refused.Error, Does.Contain("profile ubuntu-hipaa is made for ubuntu 22.04, ubuntu 24.04; this root is Debian GNU/Linux"));
        var forced = await HardenCli.RunAsync("plan", "--profile", "ubuntu-hipaa", "--root", _root.Path, "--force-platform");
        Assert.That(forced.ExitCode, Is.Zero, forced.ToString());
    }
}
