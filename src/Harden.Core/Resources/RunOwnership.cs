using Harden.Execution;

namespace Harden.Resources;

/// <summary>
/// Whether a folder or file this run manages still belongs to an account or group the run made: then
/// restore keeps the account, since deleting it would free its id for the next one created.
/// </summary>
internal static class RunOwnership
{
    /// <param name="property">"owner" or "group", as the journal's after-state names it.</param>
    /// <param name="owns">Whether a uid/gid pair on disk is the account's.</param>
    /// <returns>The first such path, or null.</returns>
    public static string? StillOwned(IHostEffects fx, string property, string name, Func<uint, uint, bool> owns) =>
        fx.Entries.Where(e => e.Address.Kind is DirectoryResource.Kind or FileResource.Kind && e.After.Get(property) == name)
            .Select(e => e.Address.Key)
            .FirstOrDefault(p => (fx.ReadDirectory(p) is { Exists: true } d && owns(d.Uid, d.Gid)) || (fx.ReadFile(p) is { Exists: true } f && owns(f.Uid, f.Gid)));
}
