namespace Harden.Integration.Tests;

/// <summary>Gives every test its own freshly unpacked lived-in root (see <see cref="LivedInRoot"/>), removed afterwards.</summary>
public abstract class LivedInTest
{
    protected DebianRoot Root { get; private set; } = null!;

    [SetUp]
    public async Task UnpackLivedInRoot()
    {
        if (Environment.UserName != "root")
            Assert.Ignore("integration tests unpack and chroot into a Debian root, which needs root");
        Root = await LivedInRoot.CreateAsync();
    }

    [TearDown]
    public void RemoveRoot() => Root?.Dispose();
}
