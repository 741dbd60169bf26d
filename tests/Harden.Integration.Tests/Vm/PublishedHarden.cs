namespace Harden.Integration.Tests.Vm;

/// <summary>The NativeAOT binary as shipped (dotnet publish -p:PublishAot=true), built once per test run for the VMs.</summary>
public static class PublishedHarden
{
    private static readonly Lazy<Task<string>> Binary = new(PublishAsync);

    public static Task<string> NativeAsync() => Binary.Value;

    private static async Task<string> PublishAsync()
    {
        await DebianRoot.EnsurePackagesAsync("gcc", "zlib1g-dev");
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Harden.sln"))) repo = repo.Parent;
        if (repo is null) throw new InvalidOperationException("Harden.sln not found above the test output");
        var output = Directory.CreateTempSubdirectory("harden-vm-publish-").FullName;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await DebianRoot.Run("dotnet", ["publish", Path.Combine(repo.FullName, "src/Harden.Cli"), "-c", "Release", "-o", output, "-p:PublishAot=true"]);
        TestContext.Progress.WriteLine($"harden tests: NativeAOT binary for the VMs published in {clock.Elapsed.TotalSeconds:0} s.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(output, recursive: true);
        return Path.Combine(output, "harden");
    }
}
