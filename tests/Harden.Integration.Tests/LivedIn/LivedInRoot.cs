namespace Harden.Integration.Tests;

/// <summary>
/// A Debian 12 root that looks like a server in use, unlike the fresh fixture where every package the
/// profile wants is preinstalled: only the base of a server (lived-in-packages.txt, with
/// systemd-timesyncd and without chrony, auditd, libpam-pwquality, aide, …), no apt lists (as on a
/// fresh cloud image), and the people and automation of <see cref="LivedInAccounts"/> with password
/// ages in the past. The profile has to install what it needs through apt itself: give the root a
/// source with <see cref="LocalAptRepository.ServeAsync"/> or a dead one with
/// <see cref="LocalAptRepository.PointAtUnreachableMirror"/>.
/// </summary>
public static class LivedInRoot
{
    /// <summary>The packages of the lived-in root, one per line in lived-in-packages.txt.</summary>
    public static readonly string[] Packages = DebianRoot.ReadPackageList("lived-in-packages.txt");

    /// <summary>A fresh lived-in root (its own unpacked copy, removed by Dispose), accounts dated from today.</summary>
    public static async Task<DebianRoot> CreateAsync()
    {
        var root = await DebianRoot.CreateAsync(DebianRoot.Suite, Packages);
        try
        {
            CheckUntouchedByApt(root);
            await LivedInAccounts.PopulateAsync(root);
            return root;
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>
    /// mmdebstrap removes the apt lists and its own policy-rc.d by default; the fixture relies on it,
    /// so a change there fails loudly instead of making the first apply's apt-get update pass unseen.
    /// </summary>
    private static void CheckUntouchedByApt(DebianRoot root)
    {
        if (LocalAptRepository.IndexFiles(root) is { Count: > 0 } lists)
            throw new InvalidOperationException($"the lived-in root has apt lists: {string.Join(", ", lists)}");
        if (File.Exists(root.Map(LocalAptRepository.PolicyRcD)))
            throw new InvalidOperationException($"the lived-in root has {LocalAptRepository.PolicyRcD}");
    }
}
