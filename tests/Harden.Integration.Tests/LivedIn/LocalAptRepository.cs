using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>
/// A flat Debian repository served from a folder (<c>deb [trusted=yes] file:/srv/harden-repo ./</c>),
/// so a root without apt lists can <c>apt-get update</c> and install with no network in the test.
/// It holds every .deb of a bookworm root with root-packages.txt's packages plus those of
/// lived-in-packages.txt (systemd-timesyncd, which chrony removes, so a rollback can put it back):
/// fetched once with mmdebstrap and cached in <see cref="DebianRoot.CacheDirectory"/>, keyed by that list.
/// </summary>
public static class LocalAptRepository
{
    /// <summary>Where a served root holds the repository.</summary>
    public const string PathInRoot = "/srv/harden-repo";

    /// <summary>The only apt source of a served root.</summary>
    public const string SourceLine = "deb [trusted=yes] file:/srv/harden-repo ./";

    /// <summary>The only apt source of a root whose mirror cannot be reached (.invalid never resolves).</summary>
    public const string UnreachableSourceLine = "deb http://mirror.invalid/debian bookworm main";

    /// <summary>Debian's no-daemons-please hook: while it exits 101, package scripts start nothing.</summary>
    public const string PolicyRcD = "/usr/sbin/policy-rc.d";

    private const string ListsDirectory = "/var/lib/apt/lists";

    /// <summary>What the repository holds the closure of: root-packages.txt, then lived-in-packages.txt's others.</summary>
    public static readonly IReadOnlyList<string> Packages = DebianRoot.Packages.Union(LivedInRoot.Packages, StringComparer.Ordinal).ToArray();

    /// <summary>The cached repository folder (exists once <see cref="EnsureAsync"/> ran).</summary>
    public static string DirectoryPath
    {
        get
        {
            var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{DebianRoot.Suite}|minbase|{string.Join(",", Packages)}")))[..12];
            return Path.Combine(DebianRoot.CacheDirectory, $"apt-repo-{DebianRoot.Suite}-{key}");
        }
    }

    private static Task<string>? _ensure;
    private static readonly Lock EnsureGate = new();

    /// <summary>Builds the repository on first use (about a minute, once) and returns its folder.</summary>
    public static Task<string> EnsureAsync()
    {
        lock (EnsureGate)
        {
            if (_ensure is null || _ensure.IsFaulted) _ensure = EnsureCoreAsync();
            return _ensure;
        }
    }

    private static async Task<string> EnsureCoreAsync()
    {
        var target = DirectoryPath;
        // Before the build gate, which EnsurePackagesAsync takes too.
        if (!Directory.Exists(target)) await DebianRoot.EnsurePackagesAsync("dpkg-dev");
        await DebianRoot.EnsureCachedAsync(target, $"a local apt repository of Debian {DebianRoot.Suite} packages", "about 60 s", BuildAsync);
        return target;
    }

    /// <summary>
    /// One mmdebstrap run with root-packages.txt that keeps its .debs (<c>--skip=download/empty</c>);
    /// lived-in packages that conflict with them (systemd-timesyncd with chrony) are only downloaded,
    /// with mmdebstrap's own apt configuration. Then the .debs are indexed for a flat repository.
    /// </summary>
    private static async Task BuildAsync(string partial)
    {
        Directory.CreateDirectory(partial);
        var extras = LivedInRoot.Packages.Except(DebianRoot.Packages, StringComparer.Ordinal).ToArray();
        string[] download = extras.Length == 0 ? [] :
            [$"--customize-hook=APT_CONFIG=\"$MMDEBSTRAP_APT_CONFIG\" apt-get --yes --quiet --download-only install {string.Join(' ', extras)}"];
        await DebianRoot.Run("mmdebstrap", ["--quiet", "--variant=minbase", $"--include={string.Join(",", DebianRoot.Packages)}",
            "--skip=download/empty", .. download, $"--customize-hook=sync-out /var/cache/apt/archives {partial}",
            DebianRoot.Suite, "/dev/null"]);
        // apt's lock file and partial/ came along with the archives.
        foreach (var entry in Directory.EnumerateFileSystemEntries(partial).Where(e => !e.EndsWith(".deb", StringComparison.Ordinal)).ToArray())
            Delete(entry);
        if (!Directory.EnumerateFiles(partial, "*.deb").Any()) throw new InvalidOperationException("mmdebstrap left no .deb files");

        var scan = await CliWrap.Cli.Wrap("dpkg-scanpackages").WithArguments(["--multiversion", ".", "/dev/null"])
            .WithWorkingDirectory(partial).WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
        if (scan.ExitCode != 0) throw new InvalidOperationException($"dpkg-scanpackages failed ({scan.ExitCode}): {scan.StandardError}");
        var packages = Encoding.UTF8.GetBytes(scan.StandardOutput);
        await File.WriteAllBytesAsync(Path.Combine(partial, "Packages"), packages);
        using (var gz = new MemoryStream())
        {
            using (var zip = new GZipStream(gz, CompressionLevel.SmallestSize, leaveOpen: true)) zip.Write(packages);
            await File.WriteAllBytesAsync(Path.Combine(partial, "Packages.gz"), gz.ToArray());
        }
        // A Release file keeps apt update quiet (without one it probes for Translation files and warns);
        // [trusted=yes] lets apt take it unsigned.
        var release = new StringBuilder()
            .Append("Origin: harden-tests\nLabel: harden-tests\n")
            .Append($"Date: {DateTime.UtcNow.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\nSHA256:\n");
        foreach (var name in new[] { "Packages", "Packages.gz" })
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(partial, name));
            release.Append($" {Convert.ToHexStringLower(SHA256.HashData(bytes))} {bytes.Length} {name}\n");
        }
        await File.WriteAllTextAsync(Path.Combine(partial, "Release"), release.ToString());
        // Readable by apt's sandbox user _apt, which the file: method runs as.
        File.SetUnixFileMode(partial, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach (var file in Directory.EnumerateFiles(partial)) File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));
    }

    /// <summary>
    /// Puts the repository into <paramref name="root"/> at /srv/harden-repo (hard links when the cache
    /// is on the root's file system, else a copy: never write into its files), makes it the root's only
    /// apt source, and leaves the apt lists empty, so the first apply must run apt-get update itself.
    /// </summary>
    public static async Task ServeAsync(DebianRoot root)
    {
        var repo = await EnsureAsync();
        var target = root.Map(PathInRoot);
        foreach (var path in new[] { root.Map("/srv"), target })
            if (new DirectoryInfo(path).LinkTarget is not null) throw new InvalidOperationException($"{path} is a symlink");
        Directory.CreateDirectory(target);
        var devices = await DebianRoot.Run("stat", ["-c", "%d", repo, target]);
        var sameFileSystem = devices.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().Count() == 1;
        await DebianRoot.Run("cp", [sameFileSystem ? "-al" : "-a", repo + "/.", target]);
        WriteSources(root, SourceLine);
    }

    /// <summary>
    /// Makes a mirror that never resolves the root's only apt source, with no lists: nothing can be
    /// installed. The root's resolver is pointed at 127.0.0.1 (nothing answers there), so apt's name
    /// lookup for mirror.invalid never leaves this machine's loopback.
    /// </summary>
    public static void PointAtUnreachableMirror(DebianRoot root)
    {
        WriteSources(root, UnreachableSourceLine);
        var resolv = root.Map("/etc/resolv.conf");
        if (new FileInfo(resolv).LinkTarget is not null) File.Delete(resolv);
        File.WriteAllText(resolv, "# harden tests: lookups stay on loopback\nnameserver 127.0.0.1\n");
    }

    /// <summary>Runs apt-get in the root non-interactively, with <see cref="PolicyRcD"/> in place so no package script starts a daemon.</summary>
    public static async Task<BufferedCommandResult> AptGetAsync(DebianRoot root, params string[] args)
    {
        var policy = root.Map(PolicyRcD);
        await File.WriteAllTextAsync(policy, "#!/bin/sh\n# harden tests: no daemons started while packages install\nexit 101\n");
        File.SetUnixFileMode(policy, (UnixFileMode)Convert.ToInt32("755", 8));
        try
        {
            return await root.Chroot(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", .. args]);
        }
        finally
        {
            File.Delete(policy);
        }
    }

    /// <summary>The apt index files in the root's lists (apt's lock and empty partial/ do not count).</summary>
    public static IReadOnlyList<string> IndexFiles(DebianRoot root)
    {
        var lists = root.Map(ListsDirectory);
        if (!Directory.Exists(lists)) return [];
        return Directory.EnumerateFiles(lists, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(lists, f)).Where(f => f != "lock").Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Exactly one apt source (sources.list; sources.list.d emptied) and no lists or package caches.</summary>
    private static void WriteSources(DebianRoot root, string line)
    {
        var apt = root.Map("/etc/apt");
        if (new DirectoryInfo(apt).LinkTarget is not null) throw new InvalidOperationException($"{apt} is a symlink");
        File.WriteAllText(Path.Combine(apt, "sources.list"), line + "\n");
        var parts = Path.Combine(apt, "sources.list.d");
        if (Directory.Exists(parts))
            foreach (var file in Directory.EnumerateFileSystemEntries(parts)) Delete(file);
        ForgetLists(root);
    }

    private static void ForgetLists(DebianRoot root)
    {
        var lists = root.Map(ListsDirectory);
        if (Directory.Exists(lists))
            foreach (var entry in Directory.EnumerateFileSystemEntries(lists))
            {
                var name = Path.GetFileName(entry);
                if (name == "lock") continue;
                if (name == "partial" && IsDirectory(entry))
                    foreach (var inner in Directory.EnumerateFileSystemEntries(entry)) Delete(inner);
                else Delete(entry);
            }
        foreach (var cache in new[] { "/var/cache/apt/pkgcache.bin", "/var/cache/apt/srcpkgcache.bin" }) File.Delete(root.Map(cache));
    }

    /// <summary>A real directory, not a symlink to one (which Delete removes as a link, never following it).</summary>
    private static bool IsDirectory(string path) => Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null;

    private static void Delete(string path)
    {
        if (IsDirectory(path)) Directory.Delete(path, recursive: true);
        else File.Delete(path);
    }
}
