"""DTensor parameters on a CPU mesh over gloo, in real spawned torch.distributed processes: each
rank fills its local shard only, and the global tensor equals the single-process init bit for bit,
for world sizes 1, 2 and 4, Shard(0), Shard(1), Replicate, uneven shards and a 2-D mesh."""
import math
import os

import numpy as np
import pytest

import fastinit as fi

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

# Odd sizes, so that 2 and 4 ranks get uneven shards.
SHAPE = (13, 10)
INITS = {
    "kaiming_uniform_": lambda x, g: fi.init.kaiming_uniform_(x, a=math.sqrt(5), generator=g),
    "xavier_normal_": lambda x, g: fi.init.xavier_normal_(x, generator=g),
    "trunc_normal_": lambda x, g: fi.init.trunc_normal_(x, 0.0, 0.02, -0.04, 0.04, generator=g),
    "orthogonal_": lambda x, g: fi.init.orthogonal_(x, generator=g),
    "Generator.normal": lambda x, g: fi.default_rng(g).normal(0.0, 0.5, out=x),
}


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(10, 13)
        self.down = torch.nn.Linear(13, 7)
        self.embed = torch.nn.Embedding(11, 13)


def _placements(world):
    from torch.distributed.tensor import Replicate, Shard

    one_d = {"Shard(0)": [Shard(0)], "Shard(1)": [Shard(1)], "Replicate": [Replicate()]}
    if world != 4:
        return {(world,): one_d}
    two_d = {"Shard(0),Shard(1)": [Shard(0), Shard(1)], "Shard(1),Shard(0)": [Shard(1), Shard(0)],
             "Replicate,Shard(0)": [Replicate(), Shard(0)],
             "Shard(0),Shard(0)": [Shard(0), Shard(0)]}
    return {(world,): one_d, (2, 2): two_d}


def _worker(rank, world, store):
    """Runs in each spawned process; an AssertionError fails the test through spawn."""
    import fastinit.torch as ft
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, distribute_tensor

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.manual_seed(1000 + rank)          # the ranks' torch RNGs differ; fastinit's do not
        for mesh_shape, cases in _placements(world).items():
            mesh = init_device_mesh("cpu", mesh_shape)
            for label, placements in cases.items():
                # fastinit.init functions and Generator out= on a DTensor: local shard only.
                for name, fill in INITS.items():
                    expected = fill(np.empty(SHAPE, np.float32), 7)
                    dt = distribute_tensor(torch.zeros(SHAPE), mesh, placements)
                    local_before = dt.to_local().data_ptr()
                    assert fill(dt, 7) is dt
                    assert dt.to_local().data_ptr() == local_before
                    assert np.array_equal(dt.full_tensor().numpy(), expected), (label, name)
                # A meta module with DTensor parameters, materialized.
                with torch.device("meta"):
                    net, reference = Net(), Net()
                for sub in net.children():
                    for pname, param in list(sub.named_parameters()):
                        # A bias has no dim 1: it is replicated where the weight is Shard(1).
                        fitting = [_replicate() if p.is_shard() and p.dim >= param.dim() else p
                                   for p in placements]
                        spread = distribute_tensor(param, mesh, fitting)
                        setattr(sub, pname, torch.nn.Parameter(spread))
                ft.materialize(net, seed=3)
                ft.materialize(reference, seed=3)
                for (name, param), (_, ref) in zip(net.named_parameters(),
                                                   reference.named_parameters()):
                    assert isinstance(param, DTensor)
                    assert torch.equal(param.full_tensor(), ref), (label, name)
        # Every rank done with its collectives before any tears its pairs down: a rank that
        # destroys the group while a peer still sends to it can abort in gloo's threads
        # ("terminate called without an active exception", seen once on a loaded machine).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _replicate():
    from torch.distributed.tensor import Replicate
    return Replicate()


@pytest.mark.parametrize("world", [1, 2, 4])
def test_dtensor_shards_equal_the_single_process_init(world, tmp_path):
    torch.multiprocessing.start_processes(_worker, args=(world, str(tmp_path / "store")),
                                          nprocs=world, start_method="spawn")


def test_dtensor_shards_through_the_device_kernels(tmp_path, monkeypatch):
    """The same, with every local shard filled by the Triton kernels (in Triton's interpreter:
    the spawned ranks inherit the environment), against the CPU kernels' single-process init."""
    pytest.importorskip("triton")
    monkeypatch.setenv("FASTINIT_DEVICE_KERNELS", "triton-interpret")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    torch.multiprocessing.start_processes(_worker, args=(2, str(tmp_path / "store")),
                                          nprocs=2, start_method="spawn")
