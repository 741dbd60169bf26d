using System.Security.Cryptography;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>
/// A real Debian 12 root file system, built once with mmdebstrap and cached outside the repo (keyed
/// by its package list), then unpacked fresh for every test. Tests never touch this machine's /etc.
/// </summary>
public sealed class DebianRoot : IDisposable
{
    public const string Suite = "bookworm";

    /// <summary>The releases the shipped debian-hipaa profile supports: Debian 11, 12 and 13.</summary>
    public static readonly string[] Suites = ["bullseye", "bookworm", "trixie"];
    /// <summary>The packages in every test root, one per line in root-packages.txt (bench/run.sh builds its root from the same list).</summary>
    public static readonly string[] Packages = ReadPackageList("root-packages.txt");

    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static readonly Dictionary<string, string> Tarballs = new(StringComparer.Ordinal);

    public string Path { get; }

    private DebianRoot(string path) => Path = path;

    /// <summary>
    /// A fresh copy of the real Ubuntu 24.04.4 server root in shared/roots (unpacked once per test
    /// process, copied per test), with fresh host keys. Its programs run in a chroot like a Debian root's.
    /// </summary>
    public static async Task<DebianRoot> UbuntuAsync()
    {
        await UbuntuGate.WaitAsync();
        try
        {
            var pristine = System.IO.Path.Combine(WorkDirectory, $"harden-ubuntu-24.04.4-{Environment.ProcessId}");
            if (!Directory.Exists(pristine))
            {
                var tarball = System.IO.Path.Combine(Vm.PublishedHarden.RepoRoot, "..", "shared", "roots", "ubuntu-24.04.4-server.tar.zst");
                if (!File.Exists(tarball)) Assert.Ignore($"the real Ubuntu root is not here ({tarball})");
                var partial = pristine + ".partial";
                Directory.CreateDirectory(partial);
                await Run("sh", ["-c", "zstd -dc \"$1\" | tar -x --numeric-owner -C \"$2\" --strip-components=1", "sh", tarball, partial]);
                Directory.Move(partial, pristine);
                AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                    CliWrap.Cli.Wrap("rm").WithArguments(["-rf", "--one-file-system", pristine]).WithValidation(CommandResultValidation.None)
                        .ExecuteAsync().Task.GetAwaiter().GetResult();
            }
            var path = System.IO.Path.Combine(WorkDirectory, $"harden-ubuntu-{Guid.NewGuid():N}");
            await Run("cp", ["-a", pristine, path]);
            var root = new DebianRoot(path);
            Directory.CreateDirectory(root.Map("/run/sshd"));
            Directory.CreateDirectory(root.Map("/dev/pts"));
            var keys = await root.Chroot("ssh-keygen", "-A");
            if (keys.ExitCode != 0) throw new InvalidOperationException($"ssh-keygen -A in the Ubuntu root: {keys.StandardError}");
            return root;
        }
        finally
        {
            UbuntuGate.Release();
        }
    }

    private static readonly SemaphoreSlim UbuntuGate = new(1, 1);

    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("HARDEN_TEST_CACHE") is { Length: > 0 } dir ? dir : "/var/cache/harden-tests";

    public static string TarballPath => TarballPathFor(Suite);

    public static string TarballPathFor(string suite) => TarballPathFor(suite, Packages);

    /// <summary>The cached tarball of a root with <paramref name="packages"/>: the list is part of the key.</summary>
    public static string TarballPathFor(string suite, IReadOnlyList<string> packages)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{suite}|minbase|{string.Join(",", packages)}")))[..12];
        return System.IO.Path.Combine(CacheDirectory, $"rootfs-{suite}-{key}.tar");
    }

    /// <summary>Reads a package list kept next to root-packages.txt: one package a line, blank lines ignored.</summary>
    public static string[] ReadPackageList(string fileName) =>
        File.ReadAllLines(System.IO.Path.Combine(Vm.PublishedHarden.RepoRoot, "tests/Harden.Integration.Tests", fileName))
            .Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    public static Task<DebianRoot> CreateAsync(string suite = Suite) => CreateAsync(suite, Packages);

    /// <summary>A fresh root with another package list than root-packages.txt's, built and cached once per list.</summary>
    public static async Task<DebianRoot> CreateAsync(string suite, IReadOnlyList<string> packages)
    {
        var tarball = await EnsureTarballAsync(suite, packages);
        var path = System.IO.Path.Combine(WorkDirectory, $"harden-root-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        await Run("tar", ["--numeric-owner", "-xpf", tarball, "-C", path]);
        Directory.CreateDirectory(System.IO.Path.Combine(path, "run/sshd"));
        return new DebianRoot(path);
    }

    /// <summary>Builds the cached root on first use, installing mmdebstrap if it is missing, and says so.</summary>
    private static async Task<string> EnsureTarballAsync(string suite, IReadOnlyList<string> packages)
    {
        var target = TarballPathFor(suite, packages);
        lock (Tarballs)
        {
            if (Tarballs.TryGetValue(target, out var known)) return known;
        }
        // mmdebstrap picks the output format from the extension, so the partial file must end in .tar.
        await EnsureCachedAsync(target, $"a Debian {suite} root", "about 30 s",
            partial => Run("mmdebstrap", ["--quiet", "--variant=minbase", $"--include={string.Join(",", packages)}", suite, partial]));
        lock (Tarballs) Tarballs[target] = target;
        return target;
    }

    /// <summary>
    /// Builds one entry of the cache (a file or a folder) unless it is there, under the build gate:
    /// <paramref name="build"/> writes a partial entry (same name with <c>.partial-PID</c> before its
    /// extension), which is renamed into place only once complete. Installs mmdebstrap first if missing.
    /// </summary>
    internal static async Task EnsureCachedAsync(string target, string what, string howLong, Func<string, Task> build)
    {
        if (File.Exists(target) || Directory.Exists(target)) return;
        await EnsurePackagesAsync("mmdebstrap");
        await BuildGate.WaitAsync();
        try
        {
            if (File.Exists(target) || Directory.Exists(target)) return;
            Directory.CreateDirectory(CacheDirectory);
            TestContext.Progress.WriteLine($"harden tests: building {what} with mmdebstrap into {target} ({howLong}, once)…");
            var partial = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!,
                $"{System.IO.Path.GetFileNameWithoutExtension(target)}.partial-{Environment.ProcessId}{System.IO.Path.GetExtension(target)}");
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
            await build(partial);
            if (!Directory.Exists(partial)) File.Move(partial, target, overwrite: true);
            else if (Directory.Exists(target)) Directory.Delete(partial, recursive: true); // another test process was first
            else Directory.Move(partial, target);
            TestContext.Progress.WriteLine($"harden tests: {what} cached.");
        }
        finally
        {
            BuildGate.Release();
        }
    }

    /// <summary>Installs Debian packages the tests need on first use (tests run as root), and says so.</summary>
    public static async Task EnsurePackagesAsync(params string[] packages)
    {
        await BuildGate.WaitAsync();
        try
        {
            var missing = new List<string>();
            foreach (var package in packages)
            {
                var status = await CliWrap.Cli.Wrap("dpkg-query").WithArguments(["-W", "-f=${Status}", package])
                    .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
                if (status.StandardOutput != "install ok installed") missing.Add(package);
            }
            if (missing.Count == 0) return;
            TestContext.Progress.WriteLine($"harden tests: installing {string.Join(", ", missing)} with apt-get…");
            await Run("apt-get", ["update", "-qq"]);
            await Run("apt-get", ["install", "-y", "-qq", .. missing], ("DEBIAN_FRONTEND", "noninteractive"));
        }
        finally
        {
            BuildGate.Release();
        }
    }

    /// <summary>
    /// Where roots are unpacked: a tmpfs when one is usable (unpacking 10,000 files there takes 0.4 s,
    /// against 10 s on this machine's disk), else the temp folder. HARDEN_TEST_WORKDIR overrides.
    /// </summary>
    private static readonly string WorkDirectory = ChooseWorkDirectory();

    private static string ChooseWorkDirectory()
    {
        if (Environment.GetEnvironmentVariable("HARDEN_TEST_WORKDIR") is { Length: > 0 } dir) return dir;
        const string shm = "/dev/shm";
        var mount = File.Exists("/proc/mounts")
            ? File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 3 && f[1] == shm)
            : null;
        var usable = mount is not null && mount[2] == "tmpfs" && !mount[3].Split(',').Contains("noexec")
            && new DriveInfo(shm).AvailableFreeSpace > 4L << 30;
        return usable ? shm : System.IO.Path.GetTempPath();
    }

    public string Map(string path) => Path + path;

    public string ReadText(string path) => File.ReadAllText(Map(path));

    /// <summary>Runs a command inside the root (chroot), as the real checks must.</summary>
    public Task<BufferedCommandResult> Chroot(params string[] argv) => InRoot([Path, .. argv]).ExecuteBufferedAsync();

    /// <summary>Runs a command inside the root with <paramref name="input"/> on its standard input (chpasswd, pamtester).</summary>
    public Task<BufferedCommandResult> ChrootWithInput(string input, params string[] argv) =>
        InRoot([Path, .. argv]).WithStandardInputPipe(CliWrap.PipeSource.FromString(input)).ExecuteBufferedAsync();

    /// <summary>Runs a command inside the root as an ordinary user (chroot --userspec), with input: what a user's own su or passwd sees.</summary>
    public Task<BufferedCommandResult> ChrootAs(string user, string input, params string[] argv) =>
        InRoot([$"--userspec={user}:{user}", Path, .. argv]).WithStandardInputPipe(CliWrap.PipeSource.FromString(input)).ExecuteBufferedAsync();

    /// <summary><c>chroot ARGS</c> with the root's own PATH and the C locale, its exit code left to the caller.</summary>
    private static Command InRoot(string[] chrootArgs) =>
        CliWrap.Cli.Wrap("chroot").WithArguments(chrootArgs)
            .WithEnvironmentVariables(e => e.Set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Set("LC_ALL", "C"))
            .WithValidation(CommandResultValidation.None);

    /// <summary>The effective sshd configuration, as <c>sshd -T</c> inside the root reports it.</summary>
    public async Task<IReadOnlyDictionary<string, string>> EffectiveSshdAsync()
    {
        var sshd = await Chroot("sshd", "-T");
        Assert.That(sshd.ExitCode, Is.Zero, sshd.StandardError);
        return sshd.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2)).GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => string.Join(' ', g.Select(p => p.ElementAtOrDefault(1))));
    }

    public static async Task<BufferedCommandResult> Run(string program, string[] args, params (string Key, string Value)[] env)
    {
        var command = CliWrap.Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None);
        foreach (var (key, value) in env) command = command.WithEnvironmentVariables(e => e.Set(key, value));
        var result = await command.ExecuteBufferedAsync();
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({result.ExitCode}): {result.StandardError}{result.StandardOutput}");
        return result;
    }

    /// <summary>Adds a login user, optionally with an SSH key, as an operator of the image would.</summary>
    public async Task AddUserAsync(string name, bool withKey, params string[] groups)
    {
        var r = await Chroot(["useradd", "-m", "-s", "/bin/bash", .. groups.Length > 0 ? new[] { "-G", string.Join(",", groups) } : [], name]);
        Assert.That(r.ExitCode, Is.Zero, r.StandardError);
        if (!withKey) return;
        var ssh = Map($"/home/{name}/.ssh");
        Directory.CreateDirectory(ssh);
        await File.WriteAllTextAsync(ssh + "/authorized_keys",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW " + name + "@test\n");
    }

    public void Dispose()
    {
        // rm -rf does not follow the root's symlinks (e.g. /bin -> usr/bin), so nothing outside is touched.
        CliWrap.Cli.Wrap("rm").WithArguments(["-rf", "--one-file-system", Path]).WithValidation(CommandResultValidation.None)
            .ExecuteAsync().Task.GetAwaiter().GetResult();
    }
}
