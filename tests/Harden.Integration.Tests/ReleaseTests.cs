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
        // A password as well as the key: aging applies to passwords (a key-only account has none to age).
        Assert.That((await _root.ChrootWithInput("alice:Alice-pw-4711\n", "chpasswd")).ExitCode, Is.Zero);
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

    /// <summary>
    /// This release's own rsyslogd, configured by harden, forwarding to a real TLS receiver
    /// (this machine's <c>openssl s_server</c>) in a network namespace of the test's own
    /// (Scenarios/rsyslog-tls-outage.sh). A receiver that offers only CBC with SHA-1 gets nothing;
    /// the real one negotiates TLS 1.2+ with an AEAD suite; a message held back during an outage is
    /// delivered when the server is back; and rsyslog's "certificate file is not set" warning does
    /// not flood the local log on every retry, while its other errors still reach it.
    /// </summary>
    [Test]
    public async Task Tls_log_forwarding_reaches_a_real_receiver_with_strong_suites_only()
    {
        await DebianRoot.EnsurePackagesAsync("openssl", "iproute2");
        var certs = Directory.CreateTempSubdirectory("harden-tls-");
        try
        {
            await MakeCertificatesAsync(certs.FullName);
            Directory.CreateDirectory(_root.Map("/etc/ssl/clinic"));
            File.Copy(System.IO.Path.Combine(certs.FullName, "ca.pem"), _root.Map("/etc/ssl/clinic/ca.pem"));
            // mmdebstrap leaves /etc/hosts out; the receiver's certificate is for "localhost".
            await File.WriteAllTextAsync(_root.Map("/etc/hosts"), "127.0.0.1 localhost\n");
            await _root.AddUserAsync("alice", withKey: true);
            var apply = await HardenCli.RunAsync("apply", "--yes", "--root", _root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice",
                "--set", "log_server=localhost", "--set", "log_ca_file=/etc/ssl/clinic/ca.pem", "--set", "log_retry_seconds=2");
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
            Assert.That(File.Exists(_root.Map("/etc/rsyslog.d/10-hipaa-tls-quiet.conf")), "no client certificate: the warning filter is in place");

            var output = System.IO.Path.Combine(certs.FullName, "out");
            Directory.CreateDirectory(output);
            var script = System.IO.Path.Combine(AppContext.BaseDirectory, "Scenarios", "rsyslog-tls-outage.sh");
            var run = await DebianRoot.Run("timeout", ["240", "unshare", "--net", "--pid", "--fork", "--kill-child", script, _root.Path, certs.FullName, output]);
            var weak = await File.ReadAllTextAsync(System.IO.Path.Combine(output, "weak.log"));
            var good = await File.ReadAllTextAsync(System.IO.Path.Combine(output, "good-1.log"));
            var outage = await File.ReadAllTextAsync(System.IO.Path.Combine(output, "good-2.log"));
            var offered = Regex.Match(good, "Client cipher list: (.*)").Groups[1].Value.Split(':');
            var syslog = _root.ReadText("/var/log/syslog");
            var diagnosis = run.StandardOutput + "\n--- weak ---\n" + weak + "\n--- good ---\n" + good + "\n--- outage ---\n" + outage;
            Assert.Multiple(() =>
            {
                Assert.That(run.StandardOutput, Does.Contain("phase weak: 0 message(s)"), diagnosis);
                Assert.That(weak, Does.Contain("no shared cipher"), diagnosis);
                Assert.That(good, Does.Match("Protocol version: TLSv1\\.[23]"), diagnosis);
                Assert.That(offered, Is.Not.Empty.And.All.Match("GCM|CHACHA20"), "only AEAD suites offered\n" + diagnosis);
                Assert.That(good, Does.Contain("hipaatest: up-1").And.Contain("hipaatest: weak-1"), "the message refused by the weak server is delivered later\n" + diagnosis);
                Assert.That(outage, Does.Contain("hipaatest: down-2"), "a message logged during the outage arrives when the server is back\n" + diagnosis);
                Assert.That(syslog, Does.Contain("rsyslogd:").And.Contain("suspended"), "rsyslog's own errors still reach the local log");
                Assert.That(syslog, Does.Not.Contain("certificate file is not set").And.Not.Contain("key file is not set"));
            });
            TestContext.Out.WriteLine($"{suite}: the first message after the server vanished was {(outage.Contains("hipaatest: down-1") ? "delivered" : "lost (plain TLS syslog has no acknowledgement)")}");
        }
        finally
        {
            certs.Delete(recursive: true);
        }
    }

    /// <summary>A test CA and a server certificate for "localhost" signed by it (ECDSA P-256).</summary>
    private static async Task MakeCertificatesAsync(string dir)
    {
        string F(string name) => System.IO.Path.Combine(dir, name);
        await DebianRoot.Run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", F("ca.key"), "-out", F("ca.pem"), "-days", "2", "-subj", "/CN=harden test CA"]);
        await DebianRoot.Run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", F("srv.key"), "-out", F("srv.csr"), "-subj", "/CN=localhost"]);
        await File.WriteAllTextAsync(F("ext"), "subjectAltName=DNS:localhost\n");
        await DebianRoot.Run("openssl", ["x509", "-req", "-in", F("srv.csr"), "-CA", F("ca.pem"), "-CAkey", F("ca.key"),
            "-CAcreateserial", "-out", F("srv.pem"), "-days", "2", "-extfile", F("ext")]);
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
