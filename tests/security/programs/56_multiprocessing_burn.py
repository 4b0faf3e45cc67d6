"""Attacks: CPU exhaustion with a multiprocessing pool of 16 spinning workers (also exercising
/dev/shm semaphores in the private tmpfs).

Expected containment: the deadline kills the namespace with every worker (status "timeout");
no worker is left behind.
"""
import multiprocessing as mp


def spin(_):
    while True:
        pass


if __name__ == "__main__":
    print("burning", flush=True)
    with mp.Pool(16) as pool:
        pool.map(spin, range(16))
