using System.Text;

namespace Harden.Integration.Tests.Vm;

/// <summary>
/// The main deployment path: a stock image's first boot, with the user-data of
/// examples/cloud-init/user-data.yaml (the admin with a key; runcmd fetches the shipped NativeAOT
/// binary, checks its sha256 and runs <c>harden apply</c>) on a NoCloud seed. The admin made by cloud-init is the only
/// possible operator.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class CloudInitFirstBootTests
{
    [Test]
    public async Task First_boot_hardens_the_host_and_the_admin_logs_in_with_the_key()
    {
        if (Environment.UserName != "root") Assert.Ignore("the VM tests build an image with mmdebstrap, which needs root");
        var image = await VmImage.EnsureAsync();
        var binary = await PublishedHarden.NativeAsync();
        var example = await File.ReadAllTextAsync(Path.Combine(PublishedHarden.RepoRoot, "examples", "cloud-init", "user-data.yaml"));
        // The binary is served from this machine's loopback; qemu's user-mode network shows it to the guest as 10.0.2.2.
        using var server = BinaryServer.Start(binary);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(binary)));
        await using var vm = await LiveVm.StartOrSkipAsync(image, key => example.Replace("ADMIN_PUBLIC_KEY", key)
            .Replace("HARDEN_URL", $"http://10.0.2.2:{server.Port}/harden").Replace("HARDEN_SHA256", sha256));

        // runcmd runs after sshd is up: wait for cloud-init to finish, then look.
        var status = await vm.SshAsync("cloud-init status --wait --long", TimeSpan.FromMinutes(10));
        var runs = await vm.SshAsync("sudo sh -c 'cat /var/lib/harden/runs/*/manifest.json'");
        var loaded = await vm.SshAsync("sudo auditctl -l");
        var compiled = await vm.SshAsync("sudo cat /etc/audit/audit.rules");
        var sshd = await vm.SshAsync("sudo sshd -T");
        var fresh = await vm.SshAsync("id -nG");
        var log = await vm.SshAsync("sudo tail -40 /var/log/cloud-init-output.log");
        var diagnosis = $"{status}\n--- runs ---\n{runs}\n--- cloud-init-output ---\n{log.StandardOutput}";
        Assert.Multiple(() =>
        {
            Assert.That(status.ExitCode, Is.Zero, diagnosis);
            Assert.That(status.StandardOutput, Does.Contain("status: done"), diagnosis);
            Assert.That(runs.StandardOutput, Does.Contain("\"completed\"").And.Not.Contain("failed-restored"), "the first-boot run completed\n" + diagnosis);
            Assert.That(Rules(loaded.StandardOutput), Is.EqualTo(Rules(compiled.StandardOutput)), "every compiled audit rule is loaded\n" + loaded);
            Assert.That(loaded.StandardOutput, Does.Contain("-k phi_access"));
            Assert.That(sshd.StandardOutput, Does.Contain("passwordauthentication no").And.Contain("allowgroups phi-access"));
            Assert.That(fresh.Succeeded, "the admin logs in with the key\n" + fresh);
            Assert.That(fresh.StandardOutput, Does.Contain("phi-access"));
        });
        TestContext.Progress.WriteLine($"harden tests: cloud-init first boot ({vm.Accelerator}) answered ssh after {vm.BootSeconds[0]:0} s.");
    }

    private static int Rules(string text) =>
        text.Split('\n').Count(l => l.StartsWith("-w ", StringComparison.Ordinal) || l.StartsWith("-a ", StringComparison.Ordinal));

    /// <summary>
    /// Serves one file over HTTP/1.0 on 127.0.0.1 (a free port), as an artifact server would. A
    /// plain socket rather than HttpListener: the guest asks for host 10.0.2.2, which HttpListener
    /// would refuse for a 127.0.0.1 prefix.
    /// </summary>
    private sealed class BinaryServer : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        public int Port { get; }

        private BinaryServer(string path)
        {
            _listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;
            var body = File.ReadAllBytes(path);
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
                        var found = request.ToString().StartsWith("GET /harden ", StringComparison.Ordinal);
                        var header = found ? $"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"
                            : "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(header));
                        if (found) await stream.WriteAsync(body);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
                    {
                        return;
                    }
                    catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
                    {
                        // One failed download; the guest's curl retries.
                    }
                }
            });
        }

        public static BinaryServer Start(string path) => new(path);

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
