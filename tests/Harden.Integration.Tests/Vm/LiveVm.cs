using System.Diagnostics;
using System.Globalization;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests.Vm;

/// <summary>
/// A real Debian virtual machine for live tests: qemu boots the cached <see cref="VmImage"/>'s kernel
/// and initrd with a qcow2 overlay of its own (the image is never written), a NoCloud seed ISO
/// (label <c>cidata</c>) whose user-data makes the operator, and user-mode networking that forwards
/// only 127.0.0.1:PORT to the guest's port 22 (no bridge, no tap). The serial console goes to a log.
/// Everything happens through this machine's real <c>ssh</c> client as the operator, who has sudo.
/// KVM is tried first; where it fails (these machines abort with "failed to set MSR 0x10a") TCG
/// emulation is used, which is slower but works everywhere.
/// </summary>
public sealed class VmUnavailableException(string message) : Exception(message);

public sealed class LiveVm : IAsyncDisposable
{
    public const string Operator = "clinicadmin";
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(10);
    private static bool? _kvmWorks;
    private static readonly SemaphoreSlim AccelGate = new(1, 1);

    private readonly VmImage _image;
    private readonly string _dir;
    private CancellationTokenSource? _kill;
    private CommandTask<CommandResult>? _qemu;
    private readonly StringBuilder _qemuErrors = new();

    private LiveVm(VmImage image, string dir)
    {
        _image = image;
        _dir = dir;
    }

    public int Port { get; private set; }
    public string PrivateKey => Path.Combine(_dir, "id_ed25519");
    public string SerialLog => Path.Combine(_dir, "serial.log");
    public string Accelerator { get; private set; } = "";
    /// <summary>Seconds from starting qemu to the first successful key login, for each boot.</summary>
    public List<double> BootSeconds { get; } = [];

    /// <summary>
    /// Boots a new VM from <paramref name="image"/>. The cloud-init user-data makes the operator with
    /// this VM's own key and passwordless sudo, unless <paramref name="userData"/> gives the whole
    /// user-data for that public key (the cloud-init example does).
    /// </summary>
    public static async Task<LiveVm> StartAsync(VmImage image, Func<string, string>? userData = null)
    {
        var dir = Directory.CreateTempSubdirectory("harden-vm-").FullName;
        var vm = new LiveVm(image, dir);
        try
        {
            await DebianRoot.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "harden-live-test", "-f", vm.PrivateKey]);
            var publicKey = (await File.ReadAllTextAsync(vm.PrivateKey + ".pub")).Trim();
            var seed = Directory.CreateDirectory(Path.Combine(dir, "seed")).FullName;
            await File.WriteAllTextAsync(Path.Combine(seed, "meta-data"), $"instance-id: harden-{Guid.NewGuid():N}\nlocal-hostname: harden-vm\n");
            await File.WriteAllTextAsync(Path.Combine(seed, "user-data"), userData?.Invoke(publicKey) ??
                $"#cloud-config\nusers:\n  - name: {Operator}\n    shell: /bin/bash\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n" +
                $"    ssh_authorized_keys:\n      - {publicKey}\n");
            await DebianRoot.Run("genisoimage", ["-quiet", "-output", Path.Combine(dir, "seed.iso"), "-volid", "cidata", "-joliet", "-rock",
                Path.Combine(seed, "user-data"), Path.Combine(seed, "meta-data")]);
            await DebianRoot.Run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image.Disk, "-F", "qcow2", Path.Combine(dir, "overlay.qcow2")]);
            await vm.BootAsync();
            return vm;
        }
        catch
        {
            await vm.DisposeAsync();
            throw;
        }
    }

    private async Task BootAsync()
    {
        var clock = Stopwatch.StartNew();
        foreach (var accel in await AcceleratorsAsync())
        {
            Port = LiveSshd.FreeLoopbackPort();
            Accelerator = accel;
            lock (_qemuErrors) _qemuErrors.Clear();
            _kill = new CancellationTokenSource();
            _qemu = CliWrap.Cli.Wrap("qemu-system-x86_64").WithArguments(QemuArguments(accel))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(l => { lock (_qemuErrors) _qemuErrors.AppendLine(l); }))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(_kill.Token);
            if (accel == "kvm")
            {
                // KVM either runs or aborts within seconds; remember which for every later boot.
                var early = await Task.WhenAny(_qemu.Task, Task.Delay(TimeSpan.FromSeconds(8)));
                _kvmWorks = early != _qemu.Task;
                if (_kvmWorks == false)
                {
                    TestContext.Progress.WriteLine($"harden tests: KVM failed ({QemuErrors.Trim()}); using TCG emulation.");
                    continue;
                }
            }
            if (accel == "tcg")
            {
                // TCG runs wherever qemu runs; if even that dies at once, this machine cannot run VMs at all.
                var early = await Task.WhenAny(_qemu.Task, Task.Delay(TimeSpan.FromSeconds(5)));
                if (early == _qemu.Task) throw new VmUnavailableException($"qemu-system-x86_64 -accel tcg exited at once: {QemuErrors.Trim()}");
            }
            await WaitForSshAsync(clock);
            BootSeconds.Add(clock.Elapsed.TotalSeconds);
            TestContext.Progress.WriteLine($"harden tests: VM ({_image.Suite}, {accel}) answered ssh {clock.Elapsed.TotalSeconds:0} s after qemu started.");
            return;
        }
        throw new VmUnavailableException("qemu could not start with KVM or TCG");
    }

    /// <summary>
    /// Boots a VM for a fixture, or skips the fixture loudly (in the test log and as the ignore
    /// reason) when this machine cannot run qemu at all; every other test still runs.
    /// </summary>
    public static async Task<LiveVm> StartOrSkipAsync(VmImage image, Func<string, string>? userData = null)
    {
        try
        {
            return await StartAsync(image, userData);
        }
        catch (VmUnavailableException e)
        {
            TestContext.Progress.WriteLine($"harden tests: SKIPPING the live VM tests: this machine cannot run qemu ({e.Message}).");
            Assert.Ignore($"live VM tests skipped: this machine cannot run qemu ({e.Message})");
            throw;
        }
    }

    private string QemuErrors
    {
        get { lock (_qemuErrors) return _qemuErrors.ToString(); }
    }

    private static async Task<string[]> AcceleratorsAsync()
    {
        await AccelGate.WaitAsync();
        try
        {
            return _kvmWorks switch
            {
                true => ["kvm"],
                false => ["tcg"],
                null => File.Exists("/dev/kvm") ? ["kvm", "tcg"] : ["tcg"],
            };
        }
        finally
        {
            AccelGate.Release();
        }
    }

    private string[] QemuArguments(string accel) =>
    [
        "-machine", "q35", "-accel", accel, "-cpu", accel == "kvm" ? "host" : "max", "-m", "1024", "-smp", "2",
        "-nographic", "-no-reboot", "-monitor", "none", "-serial", $"file:{SerialLog}",
        "-kernel", _image.Kernel, "-initrd", _image.Initrd, "-append", "root=/dev/vda rw console=ttyS0",
        "-drive", $"file={Path.Combine(_dir, "overlay.qcow2")},if=virtio,format=qcow2",
        "-drive", $"file={Path.Combine(_dir, "seed.iso")},if=virtio,format=raw,readonly=on",
        "-netdev", $"user,id=n0,hostfwd=tcp:127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}-:22",
        "-device", "virtio-net-pci,netdev=n0",
    ];

    private async Task WaitForSshAsync(Stopwatch clock)
    {
        while (clock.Elapsed < BootTimeout)
        {
            if (_qemu!.Task.IsCompleted)
                throw new InvalidOperationException($"qemu exited while booting: {QemuErrors}\n{Tail(SerialLog)}");
            var probe = await SshAsync("true", TimeSpan.FromSeconds(20));
            if (probe.Succeeded) return;
            await Task.Delay(2000);
        }
        throw new TimeoutException($"the VM did not answer ssh within {BootTimeout.TotalMinutes} minutes; serial console:\n{Tail(SerialLog)}");
    }

    /// <summary>Runs <paramref name="command"/> in the guest as the operator (prefix sudo for root), through the real ssh client.</summary>
    public async Task<ClientResult> SshAsync(string command, TimeSpan? timeout = null, string? user = null, string? key = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            var r = await CliWrap.Cli.Wrap("ssh").WithArguments(["-i", key ?? PrivateKey, .. ClientOptions(),
                    "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
                    $"{user ?? Operator}@127.0.0.1", command])
                .WithEnvironmentVariables(e => e.Set("SSH_AUTH_SOCK", null))
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(limit.Token);
            return new ClientResult(r.ExitCode, r.StandardOutput, r.StandardError);
        }
        catch (OperationCanceledException)
        {
            return new ClientResult(-1, "", $"ssh timed out after {(timeout ?? TimeSpan.FromMinutes(5)).TotalSeconds:0} s");
        }
    }

    /// <summary>Tries a password login (sshpass answers the prompt) and runs <paramref name="command"/>.</summary>
    public async Task<ClientResult> LoginWithPasswordAsync(string user, string password, string command = "true")
    {
        await DebianRoot.EnsurePackagesAsync("sshpass");
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var r = await CliWrap.Cli.Wrap("sshpass").WithArguments(["-e", "ssh", .. ClientOptions(),
                "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
                "-o", "NumberOfPasswordPrompts=1", $"{user}@127.0.0.1", command])
            .WithEnvironmentVariables(e => e.Set("SSHPASS", password).Set("SSH_AUTH_SOCK", null))
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(limit.Token);
        return new ClientResult(r.ExitCode, r.StandardOutput, r.StandardError);
    }

    /// <summary>Copies a file of this machine into the guest (as the operator) with scp.</summary>
    public async Task CopyInAsync(string local, string remote)
    {
        var r = await CliWrap.Cli.Wrap("scp").WithArguments(["-i", PrivateKey, "-F", "/dev/null", "-P", Port.ToString(CultureInfo.InvariantCulture),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR",
                "-o", "BatchMode=yes", local, $"{Operator}@127.0.0.1:{remote}"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        if (r.ExitCode != 0) throw new InvalidOperationException($"scp {local} failed: {r.StandardError}");
    }

    /// <summary>Reboots the guest: qemu runs with -no-reboot, so it exits, and the same disk is booted again.</summary>
    public async Task RebootAsync()
    {
        await SshAsync("sudo systemctl reboot", TimeSpan.FromSeconds(30));
        var exited = await Task.WhenAny(_qemu!.Task, Task.Delay(TimeSpan.FromMinutes(3)));
        if (exited != _qemu.Task) await StopAsync();
        await BootAsync();
    }

    private string[] ClientOptions() =>
    [
        "-F", "/dev/null", "-p", Port.ToString(CultureInfo.InvariantCulture),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "IdentityAgent=none", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
    ];

    private static string Tail(string path) =>
        File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(40)) : "(no serial log)";

    private async Task StopAsync()
    {
        if (_kill is null || _qemu is null) return;
        await _kill.CancelAsync();
        try
        {
            await _qemu.Task;
        }
        catch (OperationCanceledException)
        {
        }
        _kill.Dispose();
        _kill = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
