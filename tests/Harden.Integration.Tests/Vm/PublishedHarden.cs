namespace Harden.Integration.Tests.Vm;

/// <summary>
/// The NativeAOT binary as shipped: linked against Debian 11's glibc (packaging/sysroot.sh) so it runs
/// on Debian 11, 12 and 13, built once per test run for the VMs, and the Debian package made from it.
/// </summary>
public static class PublishedHarden
{
    private static readonly Lazy<Task<string>> Binary = new(PublishAsync);
    private static readonly Lazy<Task<string>> Package = new(PackageAsync);

    public static Task<string> NativeAsync() => Binary.Value;

    // Every dotnet publish or pack of src/Harden.Cli shares its obj/ folder: two at once truncate
    // each other's native link ("final link failed: file truncated"), so they take turns.
    private static readonly SemaphoreSlim BuildGate = new(1, 1);

    /// <summary>Runs dotnet (publish, pack) on this checkout, one at a time; the caller judges the exit code.</summary>
    public static async Task<CliWrap.Buffered.BufferedCommandResult> DotnetAsync(params string[] args)
    {
        await BuildGate.WaitAsync();
        try
        {
            return await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
                CliWrap.Cli.Wrap("dotnet").WithArguments(args).WithValidation(CliWrap.CommandResultValidation.None));
        }
        finally
        {
            BuildGate.Release();
        }
    }

    /// <summary>harden_VERSION_amd64.deb, built by packaging/build-deb.sh from <see cref="NativeAsync"/>.</summary>
    public static Task<string> DebAsync() => Package.Value;

    /// <summary>The checkout the tests were built from (the folder with Harden.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Harden.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("Harden.sln not found above the test output");
        }
    }

    private static async Task<string> PublishAsync()
    {
        await DebianRoot.EnsurePackagesAsync("gcc", "zlib1g-dev", "mmdebstrap");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sysroot = Path.Combine(DebianRoot.CacheDirectory, "sysroot-bullseye");
        await DebianRoot.Run(Path.Combine(RepoRoot, "packaging/sysroot.sh"), [sysroot]);
        var output = Directory.CreateTempSubdirectory("harden-vm-publish-").FullName;
        var publish = await DotnetAsync("publish", Path.Combine(RepoRoot, "src/Harden.Cli"), "-c", "Release", "-o", output, "-p:PublishAot=true", $"-p:SysRoot={sysroot}");
        if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish failed: {publish.StandardOutput}{publish.StandardError}");
        TestContext.Progress.WriteLine($"harden tests: NativeAOT binary (Debian 11 glibc) published in {clock.Elapsed.TotalSeconds:0} s.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(output, recursive: true);
        return Path.Combine(output, "harden");
    }

    private static async Task<string> PackageAsync()
    {
        await DebianRoot.EnsurePackagesAsync("dpkg-dev", "binutils");
        var binary = await NativeAsync();
        var output = Directory.CreateTempSubdirectory("harden-deb-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(output, recursive: true);
        var build = await DebianRoot.Run(Path.Combine(RepoRoot, "packaging/build-deb.sh"), [output], ("HARDEN_BINARY", binary));
        return build.StandardOutput.Trim().Split('\n')[^1];
    }
}
