using System.Text;

namespace Harden.Integration.Tests.Vm;

/// <summary>
/// The main deployment path: a stock image's first boot, with the user-data of
/// examples/cloud-init/user-data.yaml (the admin with a key; runcmd fetches the Debian package,
/// checks its sha256, installs it with apt and runs <c>harden apply --format json</c>) on a NoCloud
/// seed. The admin made by cloud-init is the only possible operator. The guest's own cloud-init
/// (Debian's) validates the example, as shipped and as booted, with <c>cloud-init schema</c>.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class CloudInitFirstBootTests
{
    [Test]
    public async Task First_boot_hardens_the_host_and_the_admin_logs_in_with_the_key()
    {
        if (Environment.UserName != "root") Assert.Ignore("the VM tests build an image with mmdebstrap, which needs root");
        var image = await VmImage.EnsureAsync();
        var deb = await PublishedHarden.DebAsync();
        var examplePath = Path.Combine(PublishedHarden.RepoRoot, "examples", "cloud-init", "user-data.yaml");
        var example = await File.ReadAllTextAsync(examplePath);
        // The package is served from this machine's loopback; qemu's user-mode network shows it to the guest as 10.0.2.2.
        using var server = PackageServer.Start(deb);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(deb)));
        await using var vm = await LiveVm.StartOrSkipAsync(image, key => example.Replace("ADMIN_PUBLIC_KEY", key)
            .Replace("HARDEN_DEB_URL", $"http://10.0.2.2:{server.Port}/{PackageServer.Name}").Replace("HARDEN_DEB_SHA256", sha256));

        // runcmd runs after sshd is up: wait for cloud-init to finish, then look.
        var status = await vm.SshAsync("cloud-init status --wait --long", TimeSpan.FromMinutes(10));
        var runs = await vm.SshAsync("sudo sh -c 'cat /var/lib/harden/runs/*/manifest.json'");
        var loaded = await vm.SshAsync("sudo auditctl -l");
        var compiled = await vm.SshAsync("sudo cat /etc/audit/audit.rules");
        var sshd = await vm.SshAsync("sudo sshd -T");
        var fresh = await vm.SshAsync("id -nG");
        var log = await vm.SshAsync("sudo tail -40 /var/log/cloud-init-output.log");
        var applied = await vm.SshAsync("sudo cat /var/log/harden/first-boot-apply.json");
        var logMode = await vm.SshAsync("sudo stat -c %a /var/log/harden");
        var installed = await vm.SshAsync("dpkg-query -W -f '${Status} ${Version}' harden");
        var bootedSchema = await vm.SshAsync("sudo cloud-init schema --system");
        await vm.CopyInAsync(examplePath, "/tmp/user-data.yaml");
        var shippedSchema = await vm.SshAsync("cloud-init schema --config-file /tmp/user-data.yaml");
        var diagnosis = $"{status}\n--- runs ---\n{runs}\n--- cloud-init-output ---\n{log.StandardOutput}";
        Assert.Multiple(() =>
        {
            Assert.That(status.ExitCode, Is.Zero, diagnosis);
            Assert.That(status.StandardOutput, Does.Contain("status: done"), diagnosis);
            Assert.That(shippedSchema.ExitCode, Is.Zero, "the example as shipped passes Debian's cloud-init schema\n" + shippedSchema);
            Assert.That(shippedSchema.StandardOutput, Does.Contain("Valid cloud-config"), shippedSchema.ToString());
            Assert.That(bootedSchema.ExitCode, Is.Zero, "and so does the user-data this host booted with\n" + bootedSchema);
            Assert.That(installed.StandardOutput, Does.StartWith("install ok installed"), "the package is installed\n" + installed);
            Assert.That(logMode.StandardOutput.Trim(), Is.EqualTo("700"));
            Assert.That(applied.StandardOutput, Does.Contain("\"outcome\": \"applied\"").And.Contain("\"format_version\""), "the apply's JSON is kept\n" + applied);
            Assert.That(runs.StandardOutput, Does.Contain("\"completed\"").And.Not.Contain("failed-restored"), "the first-boot run completed\n" + diagnosis);
            Assert.That(Rules(loaded.StandardOutput), Is.EqualTo(Rules(compiled.StandardOutput)), "every compiled audit rule is loaded\n" + loaded);
            Assert.That(loaded.StandardOutput, Does.Contain("-k phi_access"));
            Assert.That(sshd.StandardOutput, Does.Contain("passwordauthentication no").And.Contain("allowgroups phi-access"));
            Assert.That(fresh.Succeeded, "the admin logs in with the key\n" + fresh);
            Assert.That(fresh.StandardOutput, Does.Contain("phi-access"));
        });
        TestContext.Progress.WriteLine($"harden tests: cloud-init first boot ({vm.Accelerator}) answered ssh after {vm.BootSeconds[0]:0} s.");
    }

    /// <summary>
    /// A first boot the way most clouds give it: an image with no apt lists and without the packages
    /// the profile wants (systemd-timesyncd keeps time, no auditd, no chrony). harden refreshes the
    /// lists once from the image's package source (here this machine, serving the local repository
    /// over HTTP on loopback, which qemu shows the guest as 10.0.2.2), installs every missing package
    /// in one transaction, and converges; the admin still logs in with the key.
    /// </summary>
    [Test]
    public async Task First_boot_of_an_image_without_apt_lists_or_the_profiles_packages_installs_them_and_converges()
    {
        if (Environment.UserName != "root") Assert.Ignore("the VM tests build an image with mmdebstrap, which needs root");
        var image = await VmImage.EnsureAsync(DebianRoot.Suite, LivedInRoot.Packages);
        var deb = await PublishedHarden.DebAsync();
        var repository = await LocalAptRepository.EnsureAsync();
        var example = await File.ReadAllTextAsync(Path.Combine(PublishedHarden.RepoRoot, "examples", "cloud-init", "user-data.yaml"));
        using var server = PackageServer.Start(deb, repository);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(deb)));
        // The image's only package source is the served folder (cloud-init's apt module writes it before runcmd).
        var apt = $"apt:\n  preserve_sources_list: false\n  sources_list: |\n    deb [trusted=yes] http://10.0.2.2:{server.Port}/repo ./\n";
        await using var vm = await LiveVm.StartOrSkipAsync(image, key => example.Replace("ADMIN_PUBLIC_KEY", key)
            .Replace("HARDEN_DEB_URL", $"http://10.0.2.2:{server.Port}/{PackageServer.Name}").Replace("HARDEN_DEB_SHA256", sha256) + apt);

        var status = await vm.SshAsync("cloud-init status --wait --long", TimeSpan.FromMinutes(15));
        var log = await vm.SshAsync("sudo tail -80 /var/log/cloud-init-output.log");
        // From the whole log: harden's own lines about apt come long before its end.
        var noLists = await vm.SshAsync("sudo grep -cF 'apt has no package lists' /var/log/cloud-init-output.log");
        var transactions = await vm.SshAsync("sudo grep -cF -- '$ apt-get install -y --no-install-recommends -- ' /var/log/cloud-init-output.log");
        var applied = await vm.SshAsync("sudo cat /var/log/harden/first-boot-apply.json");
        var packages = await vm.SshAsync("dpkg-query -W -f '${Package} ${Status}\\n' chrony auditd libpam-pwquality systemd-timesyncd");
        var lists = await vm.SshAsync("ls /var/lib/apt/lists");
        var sources = await vm.SshAsync("cat /etc/apt/sources.list");
        var fresh = await vm.SshAsync("id -nG");
        var diagnosis = $"{status}\n--- cloud-init-output ---\n{log.StandardOutput}";
        Assert.Multiple(() =>
        {
            Assert.That(sources.StandardOutput, Does.Contain("10.0.2.2"), "the guest's only source is the served folder\n" + sources);
            Assert.That(status.StandardOutput, Does.Contain("status: done"), diagnosis);
            Assert.That(applied.StandardOutput, Does.Contain("\"outcome\": \"applied\""), "the apply converged\n" + applied + diagnosis);
            Assert.That(noLists.StandardOutput.Trim(), Is.EqualTo("1"), "harden saw the image had no lists, and refreshed them once\n" + diagnosis);
            Assert.That(transactions.StandardOutput.Trim(), Is.EqualTo("1"), "one apt transaction\n" + diagnosis);
            Assert.That(packages.StandardOutput, Does.Contain("chrony install ok installed").And.Contain("auditd install ok installed")
                .And.Contain("libpam-pwquality install ok installed"), packages.ToString());
            Assert.That(packages.StandardOutput, Does.Not.Contain("systemd-timesyncd install ok installed"), "chrony replaced systemd-timesyncd");
            Assert.That(lists.StandardOutput, Does.Contain("_Packages"), lists.ToString());
            Assert.That(fresh.Succeeded, "the admin logs in with the key\n" + fresh);
            Assert.That(fresh.StandardOutput, Does.Contain("phi-access"));
        });
    }

    private static int Rules(string text) =>
        text.Split('\n').Count(l => l.StartsWith("-w ", StringComparison.Ordinal) || l.StartsWith("-a ", StringComparison.Ordinal));

    /// <summary>
    /// Serves files over HTTP/1.0 on 127.0.0.1 (a free port), as an artifact server or a mirror would:
    /// each URL path maps to one file, read when asked for. A plain socket rather than HttpListener:
    /// the guest asks for host 10.0.2.2, which HttpListener would refuse for a 127.0.0.1 prefix.
    /// </summary>
    private sealed class PackageServer : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        public const string Name = "harden.deb";
        public int Port { get; }

        private PackageServer(IReadOnlyDictionary<string, string> files)
        {
            _listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                        await using var stream = client.GetStream();
                        var request = new StringBuilder();
                        var buffer = new byte[4096];
                        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && request.Length < 65536)
                        {
                            var n = await stream.ReadAsync(buffer);
                            if (n == 0) break;
                            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        }
                        var line = request.ToString().Split("\r\n")[0].Split(' ');
                        // apt asks for a flat repository's files as /repo/./Packages and /repo/./NAME.deb, percent-encoded.
                        var found = line is ["GET", var url, ..] && files.TryGetValue(Uri.UnescapeDataString(url).Replace("/./", "/", StringComparison.Ordinal), out var file) ? file : null;
                        var body = found is null ? [] : await File.ReadAllBytesAsync(found);
                        var header = found is not null ? $"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"
                            : "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(header));
                        if (found is not null) await stream.WriteAsync(body);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
                    {
                        return;
                    }
                    catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
                    {
                        // One failed download; the guest's curl and apt retry.
                    }
                }
            });
        }

        /// <summary>The package at /<see cref="Name"/>, and each file of <paramref name="repository"/> under /repo/.</summary>
        public static PackageServer Start(string deb, string? repository = null)
        {
            var files = new Dictionary<string, string>(StringComparer.Ordinal) { [$"/{Name}"] = deb };
            foreach (var file in repository is null ? [] : Directory.EnumerateFiles(repository)) files[$"/repo/{Path.GetFileName(file)}"] = file;
            return new PackageServer(files);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
