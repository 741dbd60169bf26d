namespace Harden.Integration.Tests.Vm;

/// <summary>The NativeAOT binary as shipped (dotnet publish -p:PublishAot=true), built once per test run for the VMs.</summary>
public static class PublishedHarden
{
    private static readonly Lazy<Task<string>> Binary = new(PublishAsync);

    public static Task<string> NativeAsync() => Binary.Value;

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
        await DebianRoot.EnsurePackagesAsync("gcc", "zlib1g-dev");
        var output = Directory.CreateTempSubdirectory("harden-vm-publish-").FullName;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await DebianRoot.Run("dotnet", ["publish", Path.Combine(RepoRoot, "src/Harden.Cli"), "-c", "Release", "-o", output, "-p:PublishAot=true"]);
        TestContext.Progress.WriteLine($"harden tests: NativeAOT binary for the VMs published in {clock.Elapsed.TotalSeconds:0} s.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(output, recursive: true);
        return Path.Combine(output, "harden");
    }
}
