using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>What one run of this machine's OpenSSH client against a <see cref="LiveSshd"/> gave.</summary>
public sealed record ClientResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
}

/// <summary>
/// Runs a Debian root's own sshd (the image's /usr/sbin/sshd, its sshd_config, its PAM stack, its
/// /etc/shadow) for real, so tests can prove who can and cannot log in, not just what
/// <c>sshd -T</c> says.
/// </summary>
/// <remarks>
/// sshd runs in the foreground (<c>-D -e</c>) under
/// <c>unshare --mount --propagation private --pid --fork --kill-child chroot ROOT /usr/sbin/sshd</c>:
/// a private mount namespace (nothing is mounted, and nothing could leak to this machine's), and a
/// private PID namespace in which sshd is process 1, so killing it makes the kernel kill every
/// per-connection child and login session with it. The network namespace is this machine's: sshd
/// listens on 127.0.0.1 on a free high port only, and a preflight <c>sshd -T</c> refuses to start if
/// the root's configuration would add any other listen address (e.g. <c>ListenAddress 0.0.0.0:22</c>).
/// No /proc or /dev is mounted in the root: the root's own /dev nodes (from the tarball) and its
/// PAM stack work without them (pam_loginuid ignores a missing /proc/self/loginuid).
/// Clients are this machine's /usr/bin/ssh (and sshpass), with <c>-F /dev/null</c> so neither this
/// machine's ssh_config nor an agent changes what is offered.
/// </remarks>
public sealed class LiveSshd : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);
    private const string SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly DebianRoot _root;
    private readonly StringBuilder _log = new();
    private CancellationTokenSource? _kill;
    private CommandTask<CommandResult>? _process;

    private LiveSshd(DebianRoot root) => _root = root;

    /// <summary>The loopback port sshd listens on (a new one after <see cref="RestartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Everything sshd wrote to stderr (-e) since it last started: accepted and failed logins, errors.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>Starts the root's sshd and returns once it accepts connections on 127.0.0.1.</summary>
    public static async Task<LiveSshd> StartAsync(DebianRoot root)
    {
        var sshd = new LiveSshd(root);
        try
        {
            await sshd.StartCoreAsync();
            return sshd;
        }
        catch
        {
            await sshd.StopAsync();
            throw;
        }
    }

    /// <summary>Stops sshd and starts it again, so it rereads the root's configuration.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartCoreAsync();
    }

    private async Task StartCoreAsync()
    {
        await PrepareRootAsync();
        // A port picked free can be taken before sshd binds it: try again with another.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            await PreflightAsync(Port);
            lock (_log) _log.Clear();
            _kill = new CancellationTokenSource();
            _process = CliWrap.Cli.Wrap("unshare")
                .WithArguments(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
                    "chroot", _root.Path, .. SshdArguments(Port, "-D", "-e")])
                .WithEnvironmentVariables(e => e.Set("PATH", SearchPath).Set("LC_ALL", "C"))
                .WithStandardOutputPipe(PipeTarget.ToDelegate(Append))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(Append))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(_kill.Token);
            if (await WaitUntilListeningAsync()) return;
            var why = _process.Task.IsCompletedSuccessfully
                ? $"exited with code {_process.Task.Result.ExitCode}"
                : $"did not answer within {StartTimeout.TotalSeconds:0} s";
            var log = Log;
            await StopAsync();
            if (attempt < 3 && log.Contains("Address already in use", StringComparison.Ordinal)) continue;
            throw new InvalidOperationException($"the root's sshd {why} instead of listening on 127.0.0.1:{Port}; its stderr:\n{log}");
        }
    }

    private void Append(string line)
    {
        lock (_log) _log.AppendLine(line);
    }

    private static string[] SshdArguments(int port, params string[] extra) =>
        ["/usr/sbin/sshd", .. extra, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", "ListenAddress=127.0.0.1"];

    /// <summary>Host keys (only those missing) and sshd's privilege-separation directory, inside the root.</summary>
    private async Task PrepareRootAsync()
    {
        var keys = await _root.Chroot("ssh-keygen", "-A");
        if (keys.ExitCode != 0) throw new InvalidOperationException($"ssh-keygen -A in the root failed: {keys.StandardError}");
        var run = _root.Map("/run/sshd");
        if (new DirectoryInfo(run).LinkTarget is not null) throw new InvalidOperationException($"{run} is a symlink");
        Directory.CreateDirectory(run);
        File.SetUnixFileMode(run, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    /// <summary>
    /// Checks the root's configuration with <c>sshd -T</c> and the same command line first: it must be
    /// valid, and sshd must listen on 127.0.0.1:PORT only (ListenAddress lines in the config would add
    /// to the command line's, possibly with their own ports, on this machine's network).
    /// </summary>
    private async Task PreflightAsync(int port)
    {
        var test = await _root.Chroot(SshdArguments(port, "-T"));
        if (test.ExitCode != 0)
            throw new InvalidOperationException($"sshd -T in the root failed ({test.ExitCode}): {test.StandardError}");
        var listen = test.StandardOutput.Split('\n')
            .Where(l => l.StartsWith("listenaddress ", StringComparison.Ordinal))
            .Select(l => l["listenaddress ".Length..].Trim()).ToArray();
        var expected = $"127.0.0.1:{port}";
        if (listen.Length == 0 || listen.Any(a => a != expected))
            throw new InvalidOperationException(
                $"refusing to start the root's sshd: it would listen on {string.Join(", ", listen)}, not only on {expected}");
    }

    internal static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>True once 127.0.0.1:PORT answers with an SSH banner; false if sshd exits or the time runs out.</summary>
    private async Task<bool> WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.Task.IsCompleted) return false;
            try
            {
                using var client = new TcpClient();
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await client.ConnectAsync(IPAddress.Loopback, Port, attempt.Token);
                var buffer = new byte[8];
                var read = 0;
                var stream = client.GetStream();
                while (read < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(read), attempt.Token);
                    if (n == 0) break;
                    read += n;
                }
                if (Encoding.ASCII.GetString(buffer, 0, read) == "SSH-2.0-") return !_process.Task.IsCompleted;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
            }
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>Logs in with a private key only, as this machine's ssh client, and runs <paramref name="command"/>.</summary>
    public Task<ClientResult> LoginWithKeyAsync(string user, string privateKeyPath, string command = "true") =>
        RunClientAsync("ssh", ["-i", privateKeyPath, .. ClientOptions(),
            "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
            $"{user}@127.0.0.1", command], []);

    /// <summary>Logs in with a password only (sshpass answers ssh's prompt), and runs <paramref name="command"/>.</summary>
    public async Task<ClientResult> LoginWithPasswordAsync(string user, string password, string command = "true")
    {
        await EnsureSshpassAsync();
        // BatchMode would stop ssh from asking for the password at all; one prompt makes a wrong password fail once.
        return await RunClientAsync("sshpass", ["-e", "ssh", .. ClientOptions(),
            "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
            "-o", "NumberOfPasswordPrompts=1", $"{user}@127.0.0.1", command], [("SSHPASS", password)]);
    }

    private string[] ClientOptions() =>
    [
        "-F", "/dev/null", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "IdentityAgent=none", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
    ];

    private static async Task<ClientResult> RunClientAsync(string program, string[] args, (string Key, string Value)[] env)
    {
        using var timeout = new CancellationTokenSource(ClientTimeout);
        var command = CliWrap.Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None)
            .WithEnvironmentVariables(e =>
            {
                e.Set("SSH_AUTH_SOCK", null);
                foreach (var (key, value) in env) e.Set(key, value);
            });
        var r = await command.ExecuteBufferedAsync(timeout.Token);
        return new ClientResult(r.ExitCode, r.StandardOutput, r.StandardError);
    }

    private static Task? _sshpass;
    private static readonly Lock SshpassGate = new();

    private static Task EnsureSshpassAsync()
    {
        lock (SshpassGate)
        {
            if (_sshpass is null || _sshpass.IsFaulted) _sshpass = DebianRoot.EnsurePackagesAsync("sshpass");
            return _sshpass;
        }
    }

    private static readonly ConcurrentBag<string> KeyDirectories = [];

    static LiveSshd() =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var dir in KeyDirectories) TryDelete(dir);
        };

    /// <summary>
    /// Makes a real ed25519 key pair with this machine's ssh-keygen, in a temporary folder outside the
    /// root, and authorizes its public half for <paramref name="user"/> in the root: appended to
    /// HOME/.ssh/authorized_keys, owned by the user's uid and gid from the root's /etc/passwd, with
    /// modes 700 and 600 so StrictModes accepts it. Returns the private key's path; the folder goes
    /// with <see cref="DeleteKey"/> or when the test process exits.
    /// </summary>
    public static async Task<string> InstallKeyAsync(DebianRoot root, string user)
    {
        var entry = File.ReadLines(root.Map("/etc/passwd")).Select(l => l.Split(':'))
            .FirstOrDefault(f => f.Length >= 7 && f[0] == user)
            ?? throw new InvalidOperationException($"no user {user} in the root's /etc/passwd");
        var (uid, gid, home) = (entry[2], entry[3], entry[5]);
        if (!home.StartsWith('/')) throw new InvalidOperationException($"{user}'s home '{home}' is not absolute");

        var dir = Directory.CreateTempSubdirectory("harden-sshkey-").FullName; // mode 700
        KeyDirectories.Add(dir);
        var key = System.IO.Path.Combine(dir, "id_ed25519");
        await DebianRoot.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", $"{user}@harden-test", "-f", key]);

        var ssh = root.Map(home.TrimEnd('/') + "/.ssh");
        var authorized = ssh + "/authorized_keys";
        foreach (var path in new[] { root.Map(home), ssh, authorized })
            if (new FileInfo(path).LinkTarget is not null) throw new InvalidOperationException($"{path} is a symlink");
        Directory.CreateDirectory(ssh);
        await File.AppendAllTextAsync(authorized, await File.ReadAllTextAsync(key + ".pub"));
        await DebianRoot.Run("chown", ["--no-dereference", $"{uid}:{gid}", ssh, authorized]);
        File.SetUnixFileMode(ssh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(authorized, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return key;
    }

    /// <summary>Removes a key pair made by <see cref="InstallKeyAsync"/> (its whole temporary folder).</summary>
    public static void DeleteKey(string privateKeyPath)
    {
        var dir = System.IO.Path.GetDirectoryName(privateKeyPath);
        if (dir is not null && System.IO.Path.GetFileName(dir).StartsWith("harden-sshkey-", StringComparison.Ordinal)) TryDelete(dir);
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Sets <paramref name="user"/>'s password inside the root with the root's own chpasswd (and PAM).</summary>
    public static async Task SetPasswordAsync(DebianRoot root, string user, string password)
    {
        var r = await CliWrap.Cli.Wrap("chroot").WithArguments([root.Path, "/usr/sbin/chpasswd"])
            .WithEnvironmentVariables(e => e.Set("PATH", SearchPath).Set("LC_ALL", "C"))
            .WithStandardInputPipe(PipeSource.FromString($"{user}:{password}\n"))
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        // pam_pwquality may warn (the root has no cracklib dictionary) but root's change still goes through.
        if (r.ExitCode != 0) throw new InvalidOperationException($"chpasswd for {user} in the root failed ({r.ExitCode}): {r.StandardError}");
    }

    /// <summary>Processes whose root directory is this root (chrooted into it): none once sshd is stopped.</summary>
    public static IReadOnlyList<int> ProcessesInRoot(DebianRoot root)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (new DirectoryInfo(dir + "/root").LinkTarget is { } target && target.TrimEnd('/') == root.Path.TrimEnd('/'))
                    found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or a kernel thread
            }
        }
        return found;
    }

    /// <summary>The direct children of a process, from /proc/*/stat.</summary>
    private static IEnumerable<int> ChildrenOf(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(dir), out var pid)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(dir + "/stat");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], out var ppid) && ppid == parent) yield return pid;
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill(); // SIGKILL
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }

    /// <summary>
    /// Kills sshd, the PID namespace's process 1, so the kernel kills its sessions too; unshare then
    /// reaps it and exits. Killing unshare instead (the fallback) works through --kill-child.
    /// </summary>
    private async Task StopAsync()
    {
        if (_process is null) return;
        var process = _process;
        _process = null;
        if (!process.Task.IsCompleted)
            foreach (var child in ChildrenOf(process.ProcessId).ToArray()) Kill(child);
        if (await Task.WhenAny(process.Task, Task.Delay(StopTimeout)) != process.Task) await _kill!.CancelAsync();
        try
        {
            await process.Task.WaitAsync(StopTimeout);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
        _kill?.Dispose();
        _kill = null;
        foreach (var pid in ProcessesInRoot(_root)) Kill(pid);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    public void Dispose() => StopAsync().GetAwaiter().GetResult();
}
