"KCenterGreedy: the torch implementation picks exactly what the per-step pairwise_distances reference picks."
import numpy as np
import pytest

from datascope_nb.dsel import kcenter_baseline, random_selection_data
from datascope_nb.kcenter import first_centre, gemm_error_bound, kcenter_family, kcenter_greedy, kcenter_greedy_reference


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_selection_and_radii_as_the_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, 48)).astype(np.float32)
    ours, ref = kcenter_greedy(x, 200, seed=seed), kcenter_greedy_reference(x, 200, seed=seed)
    assert ours[0] == ref[0]
    assert np.allclose(ours[1], ref[1], rtol=1e-4)
    assert ours[0][0] == first_centre(3000, seed)          # a seeded first centre, not index 0
    assert len(set(ours[0])) == 200


def test_already_selected_and_block_size_do_not_change_the_result():
    x = np.random.default_rng(5).normal(size=(1500, 16)).astype(np.float32)
    start = [3, 77, 1024]
    a = kcenter_greedy(x, 60, already_selected=start)
    b = kcenter_greedy(x, 60, already_selected=start, block_elems=1500)   # one existing centre per block
    assert a[0] == b[0] and np.allclose(a[1], b[1], rtol=1e-5)
    assert a[0] == kcenter_greedy_reference(x, 60, already_selected=start)[0]
    assert not set(a[0]) & set(start)
    # continuing a run from its own first picks reproduces the rest of it
    full = kcenter_greedy(x, 40, seed=9)[0]
    assert kcenter_greedy(x, 30, already_selected=full[:10])[0] == full[10:]


def test_radius_falls_and_beats_a_random_sample():
    x = np.random.default_rng(0).normal(size=(4000, 8)).astype(np.float32)
    picks, radii = kcenter_greedy(x, 300, seed=0)
    assert all(a >= b - 1e-6 for a, b in zip(radii, radii[1:]))
    rand = np.random.default_rng(0).choice(4000, 300, replace=False)
    rand_radius = np.sqrt(((x[:, None, :] - x[rand][None]) ** 2).sum(-1).min(1).max())
    assert radii[-1] < rand_radius


def test_dsel_baseline_uses_it():
    data = random_selection_data(500, seed=1)
    vectors = np.random.default_rng(1).normal(size=(500, 8)).astype(np.float32)
    picks = kcenter_baseline(data, 25, seed=3, vectors=vectors)
    assert picks == kcenter_greedy(vectors, 25, first=int(np.argmin(data.priority(3))))[0]


def test_bad_k_is_a_clear_error():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"k must lie in \[0, 2\]"):
        kcenter_greedy(x, 3, already_selected=[0, 1])
    with pytest.raises(ValueError, match="outside"):
        kcenter_greedy(x, 1, already_selected=[9])


# Every input family of `datascope bench kcenter`, small: the lazy search must pick exactly what the reference picks,
# whatever the norms and the clustering (issue 25: clustered, unnormalised rows used to be slow).
@pytest.mark.parametrize("family,clusters", [("unit", 50), ("gaussian", 50), ("clustered", 10), ("clustered", 100)])
def test_every_family_picks_what_the_reference_picks(family, clusters):
    x = kcenter_family(family, 2500, 48, seed=2, clusters=clusters)
    ours, ref = kcenter_greedy(x, 250, seed=4), kcenter_greedy_reference(x, 250, seed=4)
    assert ours[0] == ref[0]
    assert np.allclose(ours[1], ref[1], rtol=1e-6)
    start = [0, 17, 1234]
    assert kcenter_greedy(x, 80, already_selected=start)[0] == kcenter_greedy_reference(x, 80, already_selected=start)[0]


def ours_equal_reference(x, k, **kw):
    stats = {}
    ours = kcenter_greedy(x, k, stats=stats, **kw)
    assert stats["exact_rows"] > 0          # the counters are filled
    return ours[0] == kcenter_greedy_reference(x, k, **kw)[0]


def test_real_minilm_vectors_pick_what_the_reference_picks():
    pytest.importorskip("sentence_transformers")
    x = kcenter_family("minilm", 512)          # the first 512 corpus functions; cached under runs/ after the first run
    assert ours_equal_reference(x, 120)


def test_ties_and_duplicates():
    # exact duplicates, and points equidistant from the first centre: ties go to the lowest index, as np.argmax does
    rng = np.random.default_rng(3)
    base = kcenter_family("clustered", 300, 16, seed=3, clusters=10)
    x = np.concatenate([base, base[::3], base[5:40]])[rng.permutation(300 + 100 + 35)]
    assert ours_equal_reference(x, 150, seed=1)
    grid = np.array([[i, j] for i in range(12) for j in range(12)], np.float32)   # many exactly equal distances
    assert ours_equal_reference(grid, 60, first=0)
    assert ours_equal_reference(np.concatenate([grid, grid + 1000]), 100, first=7)   # large offset, same ties
    assert ours_equal_reference(grid, 40, already_selected=[0, 143, 5])


def test_small_blocks_and_active_sets_do_not_change_the_result():
    x = kcenter_family("clustered", 3000, 24, seed=6, clusters=30)
    a = kcenter_greedy(x, 200, seed=2)
    assert kcenter_greedy(x, 200, seed=2, block_elems=3000)[0] == a[0]      # one centre per bulk block
    assert a[0] == kcenter_greedy_reference(x, 200, seed=2)[0]


def test_error_bound_holds():
    import torch
    x = torch.as_tensor(kcenter_family("gaussian", 4000, 384, seed=1))
    x = x - x.double().mean(0).float()
    sq = (x * x).sum(1)
    c = torch.arange(0, 4000, 400)
    err = ((sq[:, None] + sq[c][None] - 2 * (x @ x[c].T)).double() - torch.cdist(x.double(), x[c].double()) ** 2).abs()
    assert (err <= gemm_error_bound(sq.sqrt(), float(sq[c].sqrt().max()), 384)[:, None].double()).all()
